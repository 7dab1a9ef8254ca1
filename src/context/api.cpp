// The public C entry points of the context layer, on the selected backend.
#include <cospace/context.h>

#include "backend.hpp"
#include "validate.hpp"

using cospace::context::selected;

extern "C" {

COSPACE_API cospace_status cospace_context_create(void* stack_top, size_t stack_size,
                                                  cospace_context_entry entry,
                                                  cospace_context* out) noexcept {
  if (out == nullptr) return COSPACE_ERROR_NULL_ARGUMENT;
  const cospace_status status = cospace::context::validate(selected, stack_top, stack_size, entry);
  if (status == COSPACE_OK) *out = selected.make(stack_top, stack_size, entry);
  return status;
}

COSPACE_API cospace_transfer cospace_context_jump(cospace_context to, void* data) {
  return selected.jump(to, data);
}

COSPACE_API cospace_transfer cospace_context_jump_ontop(cospace_context to, void* data,
                                                        cospace_ontop_function fn) {
  return selected.ontop(to, data, fn);
}

COSPACE_API void* cospace_context_stack_pointer() noexcept { return selected.stack_pointer(); }

COSPACE_API size_t cospace_context_min_stack() noexcept { return selected.min_stack; }

COSPACE_API const char* cospace_context_backend() noexcept { return selected.name; }

}  // extern "C"
