// What AddressSanitizer must be told about region memory. A stack's frames
// leave redzones poisoned in ASan's shadow when a fiber ends without
// returning through them; a region reused by the next fiber would then
// report false errors. Compiled to nothing without ASan.
#pragma once

#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace cospace::detail {

inline void forget_stack_poison([[maybe_unused]] std::uintptr_t lo,
                                [[maybe_unused]] std::uintptr_t hi) noexcept {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(reinterpret_cast<void*>(lo), hi - lo);
#endif
}

}  // namespace cospace::detail
