// Parking a scheduled fiber (or a plain thread) on a published waiter:
// park() and its inline body. See wait.hpp for the protocol and
// scheduler.cpp for the commit that closes the race with a waker.
#pragma once

#include <cospace/fiber.hpp>

#include "fiber/transfer.hpp"
#include "scheduler_impl.hpp"
#include "wait.hpp"

namespace cospace::detail {

// The task running on this thread's worker (nullptr outside). Read
// directly only before a switch (see t_worker); else current_task().
[[gnu::tls_model("initial-exec")]] extern thread_local constinit task_record* t_task;

// park() for a plain thread: sleeps on the waiter's futex word.
[[gnu::noinline]] wake_reason park_thread(waiter& w, clock::time_point deadline);
// Arms w's timer for `deadline`; true if the deadline has passed already
// and the caller's timeout claimed w (another claimer may have been first:
// then it is about to wake the task, and park() goes on as for any wait).
[[gnu::noinline]] bool timed_out_or_armed(waiter& w, clock::time_point deadline);
#ifndef NDEBUG
// park()'s debug backstop: a waiting call published its waiter without
// check_parkable() first (a claimer may already have taken it).
[[noreturn, gnu::noinline, gnu::cold]] void parked_unchecked(const task_record* t);
#endif
// Out of line, as every diagnostic on a hop's path: its strings would give
// each parking function a larger frame and more registers to save.
[[noreturn, gnu::noinline, gnu::cold]] void could_not_switch_to(const task_record* t) noexcept;

// park(), inline: in park() itself, in join_task(), and through
// park_on_inline() in a channel's send and receive, so that a fiber parked
// there returns from its switch into the channel operation's own frame.
// Every return made right after a stack switch is mispredicted (about 4 ns
// each here: docs/benchmarks.md), and the switch used to sit three calls
// below the channel operation. Reads t_worker and t_task before its switch
// only; after it, current_worker() (see t_worker): on AArch64 and RISC-V a
// compiler may keep the thread pointer in a register across the switch.
[[gnu::always_inline]] inline wake_reason park_inline(waiter& w, clock::time_point deadline) {
  task_record* const t = w.task;
  if (t == nullptr) return park_thread(w, deadline);
  // The caller has checked parkable(t) before publishing w. A backstop for
  // a waiting call that forgot (debug builds only: nothing in Release).
#ifndef NDEBUG
  if (!parkable(t)) [[unlikely]] parked_unchecked(t);
#endif
  if (deadline != no_deadline && timed_out_or_armed(w, deadline)) return wake_reason::timeout;
  struct disarm {  // also when shutdown unwinds the fiber from its park
    waiter& w;
    ~disarm() {
      // Null (acquire): never armed, or fired and done with w (cancel_timer's own first test, inline).
      if (w.timer_owner.load(std::memory_order_acquire) != nullptr) worker::cancel_timer(w);
    }
  } timer_guard{w};
  // Already woken (by another thread, or by this one making a fiber fail
  // below): no switch. A wake that comes later is seen by the commit.
  if (t->park.load(std::memory_order_acquire) == park_state::running) {
    t->waits_in_park = true;
    worker* const here = t_worker;
    if (task_record* const next = t->sliced ? nullptr : here->take_for_handoff(fresh_tasks::cached_fiber)) {
      // Direct handoff: straight to the next task, not through the worker
      // loop (one switch instead of two). Whoever runs next on this worker
      // commits our park (settle_handoff), as the loop would have.
      here->handed_over = t;
      t_task = next;
      try {
        handoff_to(next->fiber);
      } catch (const forced_unwind&) {
        throw;  // shutdown unwinds us from this switch
      } catch (...) {
        could_not_switch_to(next);
      }
    } else {
      t->parking = true;
      this_fiber::yield();  // to the worker loop, which commits the park
    }
    t->waits_in_park = false;
    // A pinned task comes back only on its home worker; a migratable one
    // may be back on another (current_worker(), out of line: see above).
    (t->pinned() ? t->home : current_worker())->settle_handoff();
  }
  // Woken: `notified` (before or after the switch).
  t->park.store(park_state::running, std::memory_order_relaxed);
  return w.reason;
}


}  // namespace cospace::detail
