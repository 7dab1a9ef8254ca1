#include "spin_lock.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cospace::detail {
namespace {
[[gnu::tls_model("initial-exec")]] thread_local int t_thread_id = 0;
}

[[gnu::tls_model("initial-exec")]] thread_local constinit char t_lock_owner_mark = 0;

void spin_lock::lock_contended() noexcept {
  const void* const self = this_thread_mark();
  for (unsigned spins = 0;; ++spins) {
    const void* expected = nullptr;
    if (owner_.compare_exchange_weak(expected, self, std::memory_order_acquire, std::memory_order_relaxed))
      return;
    if (spins > 64) sched_yield();
  }
}

int this_thread_id() noexcept {
  if (t_thread_id == 0) t_thread_id = static_cast<int>(syscall(SYS_gettid));
  return t_thread_id;
}

// 16 KiB covers every critical section of the space, malloc included; the
// library is built with -fstack-clash-protection, so this frame probes each
// of its pages on entry.
[[gnu::noinline]] void prefault_stack() noexcept {
  char frame[16 * 1024];
  frame[0] = 0;
  asm volatile("" : : "r"(frame) : "memory");  // the frame must exist and be touched
}

}  // namespace cospace::detail
