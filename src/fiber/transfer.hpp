// A symmetric transfer: the running fiber hands its thread to another,
// which takes its place (same resumer, same outer fiber). Two users:
// this_fiber::switch_to (switch.cpp, after its checks) and the scheduler's
// switch between its task fibers, handoff_to() below, which is inline so
// that a channel operation that parks makes the switch from its own frame.
// Every return made right after a stack switch, before the code that
// called the switching function is reached, is mispredicted (about 4 ns
// each on the machine measured: docs/benchmarks.md, B1 and the hop); a
// switch buried three calls deep paid three of them on every hop.
#pragma once

#include <cospace/context.h>
#include <cospace/fiber.hpp>

#include "context/backend.hpp"
#include "fiber_control.hpp"
#include "space/fault_handler.hpp"

namespace cospace::detail {

// The fiber running on this thread (null on a thread's own stack). Read
// directly only before a switch: after one, current_fiber() (a fiber may
// be back on another thread; see fiber_control.hpp).
[[gnu::tls_model("initial-exec")]] extern thread_local constinit fiber_control* t_current;

// A transfer in flight. Thread-local rather than on the leaving fiber's
// stack, which a sliced target may be restored over before
// complete_handover reads it; one transfer at a time per thread.
struct handover {
  fiber_control* from;
  fiber_control* to;
};
[[gnu::tls_model("initial-exec")]] extern thread_local constinit handover t_handover;

// Runs on the target's stack before it continues (the jump's ontop
// function): records where the leaving fiber stopped, and makes the
// target's pending jump (or its entry) see the leaving fiber's resumer as
// its own, exactly as if that resumer had resumed it.
cospace_transfer complete_handover(cospace_transfer t);

// f hands the thread to g: the bookkeeping before the jump (f's exception
// state slot arrangement carried over, see exception_state.hpp). Returns
// the jump's data for complete_handover.
[[gnu::always_inline]] inline handover* begin_transfer(fiber_control* f, fiber_control* g) noexcept {
  g->outer = f->outer;
  g->state = fiber_state::running;
  f->state = fiber_state::suspended;
  pass_exception_state(f->exceptions, g->exceptions);  // f's slot: f's own; thread: g's; g's slot: the resumer's
  t_current = g;
  set_current_region(g->stack.owner_region);
  fiber_leaving_to(f->tools, g->tools);
  t_handover = {f, g};
  return &t_handover;
}

// f runs again, resumed (or handed the thread) like after a yield.
[[gnu::always_inline]] inline void end_transfer(fiber_control* f, cospace_transfer t) noexcept {
  fiber_arrived(f->tools);
  f->resumer = t.from;
}

[[noreturn, gnu::noinline, gnu::cold]] void handed_over_wrongly(const fiber_control* g) noexcept;

// The scheduler's own access to a fiber handle's record.
struct fiber_access {
  static fiber_control* control(const fiber& f) noexcept { return f.control_; }
};

// handoff_to()'s first half, for a caller that makes the jump itself:
// checks the target and does the bookkeeping; returns the jump's data
// (from: the running fiber; to: the target).
[[gnu::always_inline]] inline handover* prepare_handoff(fiber& target) {
  fiber_control* const g = fiber_access::control(target);
  if (g->state != fiber_state::suspended || g->stack.sliced != nullptr) [[unlikely]]
    handed_over_wrongly(g);
  return begin_transfer(t_current, g);
}

// The jump of a hand-over that prepare_handoff() set up, and its end, once
// the fiber that left runs again. Reads no thread-local.
[[gnu::always_inline]] inline void jump_handed_over(handover* h) {
  fiber_control* const f = h->from;  // h is this thread's: read before the switch
  end_transfer(f, context::selected.ontop(h->to->context, h, &complete_handover));
}

// The scheduler's switch between its task fibers. It calls this only where
// its own invariants give what switch_to's checks test: it runs in a task's
// fiber, and the target is another task's fiber of the same
// thread, suspended in park() or at the top of its reuse loop (so neither
// running, finished nor fresh), and not sliced (src/sched/scheduler.cpp:
// fits_handoff, take_woken). So the jump is a plain one, never through
// slice_jump (a sliced fiber leaving for an unsliced one jumps straight
// too: the target notes where it stopped, complete_handover). A channel
// hop would pay for switch_to's checks on every switch; this keeps one
// test so that a broken invariant ends in a diagnostic rather than a jump
// into a running or dead stack.
[[gnu::always_inline]] inline void handoff_to(fiber& target) { jump_handed_over(prepare_handoff(target)); }

}  // namespace cospace::detail
