// What AddressSanitizer and Valgrind must be told about stack memory that
// changes hands. A fiber that ends without returning through its frames
// leaves them poisoned in ASan's shadow, and Valgrind marks what lay below a
// stack pointer that moved up as inaccessible; the next fiber on the same
// memory would then see false errors. Compiled to nothing without ASan.
//
// Valgrind's client requests are a magic instruction sequence that does
// nothing outside Valgrind but still costs a dozen instructions or so, on
// every fiber made and ended. Whether the process runs under Valgrind cannot
// change, so it is asked once (under_valgrind) and every request here and in
// fiber/sanitizer_hooks.hpp is made only when it does.
#pragma once

#include <atomic>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>  // (includes valgrind/valgrind.h)
#define COSPACE_VALGRIND 1
#endif

namespace cospace::detail {

#if COSPACE_VALGRIND
enum class valgrind_presence : unsigned char { unknown, absent, present };
inline constinit std::atomic<valgrind_presence> g_valgrind_presence{valgrind_presence::unknown};

[[gnu::noinline]] inline bool ask_valgrind() noexcept {
  const bool present = RUNNING_ON_VALGRIND != 0;
  g_valgrind_presence.store(present ? valgrind_presence::present : valgrind_presence::absent,
                            std::memory_order_relaxed);
  return present;
}

// One load and one compare outside Valgrind (after the first call).
inline bool under_valgrind() noexcept {
  const valgrind_presence p = g_valgrind_presence.load(std::memory_order_relaxed);
  if (p == valgrind_presence::absent) [[likely]] return false;
  return p == valgrind_presence::present || ask_valgrind();
}
#endif

// Whether the process runs under Valgrind's memcheck, not another tool: its
// requests that set memory state answer -1 (even for zero bytes, which change
// nothing), where other tools leave the default 0. Asked once per space, so
// not cached. False when built without valgrind/memcheck.h.
inline bool under_memcheck() noexcept {
#if COSPACE_VALGRIND
  if (!under_valgrind()) return false;
  [[maybe_unused]] const char probe = 0;  // unused where valgrind.h compiles requests to nothing (riscv64)
  return VALGRIND_MAKE_MEM_DEFINED(&probe, 0) != 0;
#else
  return false;
#endif
}

inline void forget_stack_poison([[maybe_unused]] std::uintptr_t lo,
                                [[maybe_unused]] std::uintptr_t hi) noexcept {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(reinterpret_cast<void*>(lo), hi - lo);
#endif
#if COSPACE_VALGRIND
  if (under_valgrind()) VALGRIND_MAKE_MEM_UNDEFINED(reinterpret_cast<void*>(lo), hi - lo);
#endif
}

}  // namespace cospace::detail
