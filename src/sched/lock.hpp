// Small locks and the futex calls of the scheduler layer.
#pragma once

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace cospace::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins on `word` (test-and-test-and-set) until an exchange of 1 into it
// returns 0; yields the thread now and then. Out of line: a lock taken
// without contention (every channel operation's) then costs its caller one
// exchange and no registers saved for a loop with a system call in it.
[[gnu::noinline, gnu::cold]] void spin_until_acquired(std::atomic<std::uint32_t>& word) noexcept;

// A test-and-test-and-set lock for short critical sections (a few list
// operations). Never held across a switch or a system call.
class spinlock {
 public:
  void lock() noexcept {
    if (!held_.exchange(1, std::memory_order_acquire)) [[likely]] return;
    spin_until_acquired(held_);
  }
  bool try_lock() noexcept {
    return !held_.load(std::memory_order_relaxed) && !held_.exchange(1, std::memory_order_acquire);
  }
  void unlock() noexcept { held_.store(0, std::memory_order_release); }

 private:
  std::atomic<std::uint32_t> held_{0};  // not bool: RISC-V has no inline byte-sized exchange
};

// Waits while *word == expected, at most until `deadline` (steady clock);
// spurious returns are possible.
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       std::chrono::steady_clock::time_point deadline) noexcept {
  timespec relative{};
  timespec* timeout = nullptr;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    const auto now = std::chrono::steady_clock::now();
    if (deadline <= now) return;
    const auto left = deadline - now;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    relative.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    relative.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    timeout = &relative;
  }
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, timeout, nullptr, 0);
}

inline void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

}  // namespace cospace::detail
