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
  }
  return "unknown cospace status";
}
