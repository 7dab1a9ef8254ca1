// What AddressSanitizer and Valgrind must be told about stack memory that
// changes hands. A fiber that ends without returning through its frames
// leaves them poisoned in ASan's shadow, and Valgrind marks what lay below a
// stack pointer that moved up as inaccessible; the next fiber on the same
// memory would then see false errors. Compiled to nothing without ASan;
// Valgrind's request is a few no-op instructions outside Valgrind.
#pragma once

#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define COSPACE_HAVE_MEMCHECK 1
#endif

namespace cospace::detail {

inline void forget_stack_poison([[maybe_unused]] std::uintptr_t lo,
                                [[maybe_unused]] std::uintptr_t hi) noexcept {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(reinterpret_cast<void*>(lo), hi - lo);
#endif
#if defined(COSPACE_HAVE_MEMCHECK)
  VALGRIND_MAKE_MEM_UNDEFINED(reinterpret_cast<void*>(lo), hi - lo);
#endif
}

}  // namespace cospace::detail
