#include <cospace/status.h>

extern "C" COSPACE_API const char* cospace_status_message(cospace_status status) noexcept {
  switch (status) {
    case COSPACE_OK:
      return "success";
    case COSPACE_ERROR_NULL_ARGUMENT:
      return "a required pointer argument (stack, entry function or output) is null";
    case COSPACE_ERROR_STACK_MISALIGNED:
      return "the stack top is not aligned to 16 bytes";
    case COSPACE_ERROR_STACK_TOO_SMALL:
      return "the stack is smaller than the backend's minimum (cospace_context_min_stack())";
    case COSPACE_ERROR_STACK_NOT_BELOW:
      return "the sjlj backend needs a new stack to lie below the stack of the context that "
             "first jumps to it";
    case COSPACE_ERROR_FIBER_MISUSE:
      return "the fiber cannot do that in its state (finished, running or empty)";
    case COSPACE_ERROR_NOT_IN_FIBER:
      return "called outside any fiber";
    case COSPACE_ERROR_FIBER_THREW:
      return "a C++ exception escaped the fiber's function";
    case COSPACE_ERROR_BAD_OPTION:
      return "an option that cannot work";
    case COSPACE_ERROR_EXHAUSTED:
      return "the fiber space's reservation is exhausted";
    case COSPACE_ERROR_SYSTEM:
      return "a system call was refused";
    case COSPACE_ERROR_OUT_OF_MEMORY:
      return "out of memory";
  }
  return "unknown cospace status";
}
