// The space's lock: a spin lock that knows its owner thread.
//
// The SIGSEGV handler takes it to grow a stack, which is safe because the
// fault is synchronous: it interrupts user code, never the space's own
// critical sections, provided those cannot fault on a guard. Every path that
// locks first prefaults a little stack (see prefault_stack), so a critical
// section never grows the stack it runs on. If the handler finds the lock
// held by its own thread anyway, that is a bug in cospace, reported as such
// instead of a silent deadlock.
#pragma once

#include <sched.h>

#include <atomic>

namespace cospace::detail {

// This thread's kernel id (cached; async-signal-safe after first use).
int this_thread_id() noexcept;

class spin_lock {
 public:
  void lock() noexcept {
    const int self = this_thread_id();
    for (unsigned spins = 0;; ++spins) {
      int expected = 0;
      if (owner_.compare_exchange_weak(expected, self, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return;
      if (spins > 64) sched_yield();
    }
  }
  void unlock() noexcept { owner_.store(0, std::memory_order_release); }
  bool held_by_this_thread() const noexcept {
    return owner_.load(std::memory_order_relaxed) == this_thread_id();
  }

 private:
  std::atomic<int> owner_{0};
};

// Touches the next few pages below the caller's stack pointer, so that any
// growth fault they need happens now, before a lock is taken.
void prefault_stack() noexcept;

}  // namespace cospace::detail
