// Shared by the scheduler layer's tests.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

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

inline constexpr std::size_t scaled(std::size_t full, std::size_t under_thread_sanitizer) {
  return under_tsan ? under_thread_sanitizer : full;
}

// The kernel's thread id, asked every time (pthread_self() may be cached
// across a switch, as thread-local addresses are).
[[gnu::noinline]] inline long kernel_thread_id() { return syscall(SYS_gettid); }

}  // namespace cospace::test
