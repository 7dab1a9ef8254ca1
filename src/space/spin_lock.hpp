// The space's lock: a spin lock that knows its owner thread.
//
// The SIGSEGV handler takes it to grow a stack, which is safe because the
// fault is synchronous: it interrupts user code, never the space's own
// critical sections, provided those cannot fault on a guard. Every path that
// locks first prefaults a little stack (see prefault_stack; the warm paths
// skip it where no fault could need the lock: prefault.hpp), so a critical
// section never grows the stack it runs on. If the handler finds the lock
// held by its own thread anyway, that is a bug in cospace, reported as such
// instead of a silent deadlock.
#pragma once

#include <sched.h>

#include <atomic>

namespace cospace::detail {

// This thread's kernel id (cached; async-signal-safe after first use).
int this_thread_id() noexcept;

// The lock's mark for this thread: the address of a thread-local, distinct
// for every live thread, reached without a call (one %fs-relative lea) and
// async-signal-safe (the fault handler compares it).
[[gnu::tls_model("initial-exec")]] extern thread_local constinit char t_lock_owner_mark;
inline const void* this_thread_mark() noexcept { return &t_lock_owner_mark; }

class spin_lock {
 public:
  void lock() noexcept {
    const void* const self = this_thread_mark();
    for (unsigned spins = 0;; ++spins) {
      const void* expected = nullptr;
      if (owner_.compare_exchange_weak(expected, self, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return;
      if (spins > 64) sched_yield();
    }
  }
  void unlock() noexcept { owner_.store(nullptr, std::memory_order_release); }
  bool held_by_this_thread() const noexcept {
    return owner_.load(std::memory_order_relaxed) == this_thread_mark();
  }

 private:
  std::atomic<const void*> owner_{nullptr};  // the owner's this_thread_mark()
};

// Touches the next few pages below the caller's stack pointer, so that any
// growth fault they need happens now, before a lock is taken.
void prefault_stack() noexcept;

}  // namespace cospace::detail
