// Resuming and suspending fibers: the fiber core's hot path.
//
// A resume, from the resumer's side:
//   1. check the fiber can run (state), mark it running, make it current;
//   2. swap the C++ exception state (exception_state.hpp), tell the sanitizers;
//   3. jump into the fiber, passing its record; the fiber stores who resumed it;
//   4. ... the fiber runs until it yields or ends, and jumps back ...
//   5. store the fiber's new context, swap the exception state back, restore
//      the current fiber and region, rethrow what escaped the body.
// The fiber's side of a switch touches only its own record.
//
// Sliced fibers: any jump into a sliced fiber, and any resume from one, goes
// through slice_jump (slice/slice_jump.hpp), which makes the destination's
// bytes resident first and records where the source stopped; a yield or a
// switch_to from a sliced fiber into a thread or a region fiber is a plain
// jump, because its receiver records the stop first thing; data handed
// across such a jump never lives on the leaving stack (it may be overwritten
// before the destination reads it): it is a fiber record, or a thread-local.
#include <cospace/fiber.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "context/backend.hpp"
#include "fiber_control.hpp"
#include "fiber_locals.hpp"
#include "transfer.hpp"
#include "slice/slice_jump.hpp"
#include "slice/thread_slicing.hpp"
#include "space/fault_handler.hpp"

namespace cospace::detail {

[[gnu::tls_model("initial-exec")]] constinit thread_local fiber_control* t_current = nullptr;
[[gnu::tls_model("initial-exec")]] constinit thread_local handover t_handover{};

void fiber_entry(cospace_transfer t) noexcept;

namespace {

const context::backend& backend = context::selected;


[[gnu::always_inline]] inline slice* slice_of(fiber_control* f) noexcept {
  return f != nullptr ? f->stack.sliced : nullptr;
}

// The part of jump_between that involves slices (slice/slice_jump.hpp).
// Kept out of line: its arguments block would otherwise sit in the frame of
// every caller, and so in every suspended slice.
[[gnu::noinline]] cospace_transfer jump_between_slices(slice* from, fiber_control* to, cospace_context to_context, void* data,
                                     cospace_ontop_function ontop) {
  slice* const to_slice = slice_of(to);
  if (to_slice != nullptr) {  // the overflow diagnostic names whoever runs on the shared stack
    to->stack.owner_region->name = to->name.empty() ? nullptr : to->name.data();
    to->stack.owner_region->id = to->id;
  }
  slice_jump_args args;
  args.from = from;
  args.to_slice = to_slice;
  args.to = to_context;
  args.fresh_entry = &fiber_entry;
  args.data = data;
  args.ontop = ontop;
  return slice_jump(args);
}

// A jump from the running code (whose slice is `from`, if it is sliced) to a
// context of fiber `to` (null: a thread's own stack); `to_context` null
// starts `to` afresh. Plain backend verbs unless a slice is involved: a
// sliced `from` must have its stop recorded (slice_jump's arrival does it)
// before anything can be made resident on its stack. Always inlined: the
// sanitizer hooks have already announced the switch, so no instrumented
// frame may open here and close on the other side (ThreadSanitizer keeps a
// shadow call stack per fiber).
[[gnu::always_inline]] inline cospace_transfer jump_between(slice* from, fiber_control* to,
                                                            cospace_context to_context, void* data,
                                                            cospace_ontop_function ontop = nullptr) {
  if (from == nullptr && slice_of(to) == nullptr) [[likely]]
    return ontop != nullptr ? backend.ontop(to_context, data, ontop) : backend.jump(to_context, data);
  return jump_between_slices(from, to, to_context, data, ontop);
}

// As jump_between, for the jumps whose receiver records the leaving fiber's
// stop itself, first thing: a yield (its resumer's land_in_resumer calls
// note_stopped on the fiber it gets back) and a switch_to (complete_handover
// does). A sliced fiber leaving that way for a thread or a region fiber
// jumps straight there, so its saved bytes hold only its caller's frames
// above the registers (no slice_jump frames).
[[gnu::always_inline]] inline cospace_transfer jump_to_noting_receiver(slice* from, fiber_control* to,
                                                                       cospace_context to_context, void* data,
                                                                       cospace_ontop_function ontop = nullptr) {
  if (slice_of(to) == nullptr) [[likely]]
    return ontop != nullptr ? backend.ontop(to_context, data, ontop) : backend.jump(to_context, data);
  return jump_between_slices(from, to, to_context, data, ontop);
}

[[gnu::always_inline]] inline void note_stopped(fiber_control* f, cospace_context handle) noexcept {
  f->context = handle;
  if (f->stack.sliced != nullptr) slice_stopped_at(*f->stack.sliced, handle);
}

// A resume's two halves around its jump, shared by resume_switch and
// forced unwinding (unwind_fiber), whose jumps differ. enter_fiber makes f
// the running fiber and sets aside in `frame` (in the resumer's own frame)
// what the resumer gets back in land_in_resumer, once a jump has come back
// to it. Every such jump carries the record of the fiber that is leaving:
// usually f, but after a symmetric transfer (switch_to) another fiber that
// took f's place. land_in_resumer returns that fiber. The sanitizers' side
// of the switch (before_resume, after_resume) is the callers'.
[[gnu::always_inline]] inline void enter_fiber(fiber_control* f, resume_frame& frame) {
  prepare_thread_for_fibers();
  frame.outer_region = current_region();
  frame.outer = t_current;
  f->outer = t_current;
  f->state = fiber_state::running;
  t_current = f;
  set_current_region(f->stack.owner_region);
  swap_exception_state(f->exceptions);
}

[[gnu::always_inline]] inline fiber_control* land_in_resumer(cospace_transfer back, const resume_frame& frame) noexcept {
  auto* const left = static_cast<fiber_control*>(back.data);
  note_stopped(left, back.from);
  swap_exception_state(left->exceptions);
  set_current_region(static_cast<region*>(frame.outer_region));
  t_current = frame.outer;
  return left;
}

[[gnu::always_inline]] inline void rethrow_escaped(fiber_control* left) {
  if (left->escaped) [[unlikely]]
    std::rethrow_exception(std::exchange(left->escaped, nullptr));
}

}  // namespace

namespace {

// The sjlj backend enters a fresh stack only downwards (by moving the stack
// pointer down): a fiber that has not started, on a stack above the running
// code's, cannot be started from here. Fresh slices are always entered from
// the copier, which lies above their shared stacks.
bool sjlj_cannot_start_from_here(const fiber_control* f) noexcept {
  return backend.needs_stack_below_caller && f->state == fiber_state::created && f->stack.sliced == nullptr &&
         f->stack.top > reinterpret_cast<std::uintptr_t>(backend.stack_pointer());
}

}  // namespace

[[noreturn]] void refuse(const fiber_control* f, const char* mistake) {
  throw fiber_error("cospace: " + describe(f) + " " + mistake);
}

namespace {

// Runs on top of a suspended fiber being destroyed: it resumes inside its
// pending yield, and this exception leaves through that call.
cospace_transfer throw_forced_unwind(cospace_transfer t) {
  auto* f = static_cast<fiber_control*>(t.data);
  fiber_arrived(f->tools);
  f->resumer = t.from;
  throw forced_unwind();
}

}  // namespace

fiber_control* current_fiber() noexcept { return t_current; }

bool foreign_sliced(const fiber_control* f) noexcept {
  return f->stack.kind == stack_kind::sliced && !on_owner_thread(f->stack.shared);
}

namespace {

// What happens after a fiber's body returned or threw, out of line so that
// fiber_entry's frame (which sits under the body's frames, and so in every
// suspended slice) holds nothing but the call.
[[noreturn, gnu::noinline]] void finish_fiber(fiber_control* f) noexcept;

// Called inside fiber_entry's catch (...): keeps the exception_ptr
// temporary out of fiber_entry's frame.
[[gnu::noinline]] void keep_escaped(fiber_control* f) noexcept { f->escaped = std::current_exception(); }

}  // namespace

// The root of every fiber's stack.
void fiber_entry(cospace_transfer t) noexcept {
  auto* f = static_cast<fiber_control*>(t.data);
  fiber_arrived(f->tools);
  f->resumer = t.from;
  try {
    f->ops->run(f->body);
  } catch (const forced_unwind&) {
    f->unwound = true;
  } catch (...) {
    keep_escaped(f);
  }
  finish_fiber(f);
}

namespace {

void finish_fiber(fiber_control* f) noexcept {
  if (f->unwind_requested && !f->unwound) {
    fatal(describe(f) + " caught cospace::forced_unwind without rethrowing it; a catch (...) "
                        "in a fiber must rethrow, or the fiber's stack cannot be unwound");
  }
  f->ops->destroy(f->body);  // its memory (if on the heap) goes with the record
  end_locals_and_arena(f);
  f->state = fiber_state::done;
  fiber_leaving(f->tools, true);
  // Nothing of a finished slice is worth saving; the shadow state of its
  // dead frames is cleared by whoever runs on the shared stack next.
  if (f->stack.sliced != nullptr) drop_slice(*f->stack.sliced);
  jump_between(nullptr, f->outer, f->resumer, f);
  fatal(describe(f) + " was resumed after its last switch");
}

}  // namespace

// fiber::resume()'s first half: the checks, then the jump, made last (a
// tail call) so that the switch returns straight into the inline resume()
// in the caller's frame (see fiber.hpp: a return right after a switch
// costs about 8 ns a round trip). In a build with the sanitizers' hooks,
// which must sit right before and after the jump in one frame, the whole
// resume is made here and the transfer returned is empty.
cospace_transfer resume_switch(fiber_control* f, resume_frame& frame) {
  if (f == nullptr) throw fiber_error("cospace: resume() of an empty fiber");
  if (f->state == fiber_state::running)
    refuse(f, f == t_current ? "tried to resume itself" : "was resumed while it is running");
  if (f->state == fiber_state::done) refuse(f, "was resumed after it finished");
  if (foreign_sliced(f)) [[unlikely]]
    refuse(f, moved_sliced);
  if (sjlj_cannot_start_from_here(f)) [[unlikely]] {
    refuse(f, "cannot be started on the sjlj backend from here: its stack is not below the resumer's "
              "(sjlj enters a fresh stack only downwards; start it from a fiber higher up or the thread)");
  }
  enter_fiber(f, frame);
  slice* const from = slice_of(frame.outer);
  if constexpr (!tools_watch_switches) {
    return jump_between(from, f, f->context, f);  // a tail call (through slice_jump if a slice is involved)
  } else {
    before_resume(f->tools);
    const cospace_transfer back = jump_between(from, f, f->context, f);
    after_resume(f->tools);  // the fake-stack slot this side started with
    rethrow_escaped(land_in_resumer(back, frame));
    return {nullptr, nullptr};
  }
}

// fiber::resume()'s second half, back in the resumer.
void resume_landed(cospace_transfer back, const resume_frame& frame) {
  if (back.data == nullptr) return;  // resume_switch did it all (the sanitizers' build)
  rethrow_escaped(land_in_resumer(back, frame));
}

void unwind_fiber(fiber_control* f) noexcept {
  f->unwind_requested = true;
  resume_frame frame;
  enter_fiber(f, frame);
  before_resume(f->tools);
  const cospace_transfer back = jump_between(slice_of(frame.outer), f, f->context, f, &throw_forced_unwind);
  after_resume(f->tools);
  fiber_control* const left = land_in_resumer(back, frame);
  if (left != f) {
    fatal(describe(f) + " handed control to " + describe(left) +
          " while it was being unwound; a fiber being destroyed must not switch_to another");
  }
  if (f->state != fiber_state::done) {
    fatal(describe(f) + " caught cospace::forced_unwind without rethrowing it and went on "
                        "running; a catch (...) in a fiber must rethrow");
  }
}

}  // namespace cospace::detail

namespace cospace {

namespace {

// Out of line, so that yield_switch needs no frame (its jump is a tail call).
[[noreturn, gnu::noinline, gnu::cold]] void yield_outside_a_fiber() {
  throw fiber_error("cospace: this_fiber::yield() was called outside any fiber");
}

}  // namespace

// this_fiber::yield()'s halves, as resume's: the jump to the resumer is
// made last (a tail call); with the sanitizers' hooks, all of it here.
cospace_transfer detail::yield_switch() {
  detail::fiber_control* f = detail::t_current;
  if (f == nullptr) [[unlikely]]
    yield_outside_a_fiber();
  f->state = detail::fiber_state::suspended;
  detail::fiber_leaving(f->tools, false);
  if constexpr (!detail::tools_watch_switches) {
    return detail::jump_to_noting_receiver(f->stack.sliced, f->outer, f->resumer, f);
  } else {
    const cospace_transfer t = detail::jump_to_noting_receiver(f->stack.sliced, f->outer, f->resumer, f);
    detail::yield_landed(t);
    return {nullptr, nullptr};
  }
}

// Every jump into a pending yield carries the yielding fiber's own record:
// a resume passes it, and so does a switch_to (complete_handover).
void detail::yield_landed(cospace_transfer back) noexcept {
  auto* const f = static_cast<detail::fiber_control*>(back.data);
  if (f == nullptr) return;  // yield_switch did it all (the sanitizers' build)
  detail::fiber_arrived(f->tools);
  f->resumer = back.from;
}

// Out of line: the message's strings would otherwise give every handoff a
// frame with six callee-saved registers pushed (the switch saves them anyway).
void detail::handed_over_wrongly(const detail::fiber_control* g) noexcept {
  detail::fatal(detail::describe(g) + ": the scheduler handed over to a fiber that is not a suspended, unsliced one");
}

cospace_transfer detail::complete_handover(cospace_transfer t) {
  const handover* h = static_cast<const handover*>(t.data);
  detail::note_stopped(h->from, t.from);
  detail::inherit_resumer(h->to->tools, h->from->tools);
  return {h->from->resumer, h->to};
}

void this_fiber::switch_to(fiber& target) {
  detail::fiber_control* f = detail::t_current;
  if (f == nullptr) throw fiber_error("cospace: this_fiber::switch_to() was called outside any fiber");
  detail::fiber_control* g = target.control_;
  if (g == nullptr) throw fiber_error("cospace: this_fiber::switch_to() an empty fiber");
  if (g == f) detail::refuse(g, "tried to switch_to itself");
  if (g->state == detail::fiber_state::running) detail::refuse(g, "was the target of switch_to while it is running");
  if (g->state == detail::fiber_state::done) detail::refuse(g, "was the target of switch_to after it finished");
  if (detail::foreign_sliced(g)) detail::refuse(g, detail::moved_sliced);
  if (detail::sjlj_cannot_start_from_here(g)) {
    detail::refuse(g, "cannot be started by switch_to on the sjlj backend: its stack is not below "
                      "the running fiber's (start it with resume() first)");
  }
  // Into or out of a slice goes through slice_jump (the scheduler's
  // handoff_to, transfer.hpp, never does: it jumps straight).
  detail::handover* const h = detail::begin_transfer(f, g);
  detail::end_transfer(f, detail::jump_to_noting_receiver(f->stack.sliced, g, g->context, h, &detail::complete_handover));
}

}  // namespace cospace
