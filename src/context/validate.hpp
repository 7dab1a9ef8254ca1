// Precondition checks for making a context, shared by the C API and by every
// caller that makes contexts on a particular backend (benchmarks, tests).
#pragma once

#include <cospace/status.h>

#include <cstddef>
#include <cstdint>

#include "backends.hpp"

namespace cospace::context {

inline constexpr std::size_t stack_alignment = 16;

// COSPACE_OK when `b` can make a context on [top - size, top) calling entry;
// otherwise the status naming the first problem found.
inline cospace_status validate(const backend& b, void* top, std::size_t size,
                               cospace_context_entry entry) noexcept {
  if (entry == nullptr || top == nullptr) return COSPACE_ERROR_NULL_ARGUMENT;
  const auto top_address = reinterpret_cast<std::uintptr_t>(top);
  if (top_address % stack_alignment != 0) return COSPACE_ERROR_STACK_MISALIGNED;
  if (size < b.min_stack || size > top_address) return COSPACE_ERROR_STACK_TOO_SMALL;
  if (b.needs_stack_below_caller &&
      top_address > reinterpret_cast<std::uintptr_t>(b.stack_pointer()))
    return COSPACE_ERROR_STACK_NOT_BELOW;
  return COSPACE_OK;
}

}  // namespace cospace::context
