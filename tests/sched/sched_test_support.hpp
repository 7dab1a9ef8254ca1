// Shared by the scheduler layer's tests.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>

namespace cospace::test {

// Under ThreadSanitizer the fiber layer supports about 8,000 live fibers;
// tests that make more scale down to this many.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool under_tsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif
#else
inline constexpr bool under_tsan = false;
#endif

// Time for the parties of a race to be in place before its deadline (more
// under ThreadSanitizer, which slows a spawn down tenfold): the edge tests
// land one party on both sides of the other's deadline within it.
inline constexpr std::chrono::microseconds race_window{under_tsan ? 3000 : 300};

// Under AddressSanitizer each fiber's creation and first switches cost several
// times as much: tests whose point is a count the test preset already reaches
// unsanitised may run fewer there.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool under_asan = true;
#else
inline constexpr bool under_asan = false;
#endif

inline constexpr std::size_t scaled(std::size_t full, std::size_t under_thread_sanitizer) {
  return under_tsan ? under_thread_sanitizer : full;
}

// The sjlj backend starts a fiber only from a stack above it, which a
// worker thread's stack is not: the scheduler refuses that backend.
#if defined(COSPACE_CONTEXT_SJLJ)
inline constexpr bool scheduler_available = false;
#else
inline constexpr bool scheduler_available = true;
#endif
#define COSPACE_SKIP_WITHOUT_SCHEDULER()                                                          \
  do {                                                                                            \
    if (!::cospace::test::scheduler_available)                                                    \
      GTEST_SKIP() << "the sjlj backend cannot start fibers from worker threads: no scheduler"; \
  } while (0)

// Counts its own destruction: put on a fiber's stack, it shows that the
// fiber ended or that shutdown unwound it.
struct count_on_exit {
  std::atomic<int>& n;
  ~count_on_exit() { ++n; }
};

// The kernel's thread id, asked every time (pthread_self() may be cached
// across a switch, as thread-local addresses are).
[[gnu::noinline]] inline long kernel_thread_id() { return syscall(SYS_gettid); }

}  // namespace cospace::test
