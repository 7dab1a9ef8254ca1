// fiber_context's hot path: resume() and resume_with().
//
// resume_fiber_context is called from the inline resume() in the public
// header and ends in a tail call to the context switch, so a round trip has
// no `ret` across stacks (each would mispredict: the return stack buffer
// holds the other stack's return address). What it does, in order:
//   1. one test for everything unusual (empty handle, thread not yet
//      prepared, a context that never ran or was suspended on another thread)
//      sends it to admit(), out of line;
//   2. empties the handle;
//   3. leave() (switch.hpp): exception state, running region, thread,
//      sanitizers;
//   4. jumps, passing its own record: the resumed side's pending resume()
//      gets {our context, our record}; adopt() stores the first in the
//      second, which is our handle.
#include <cospace/fiber_context.hpp>

#include <string>

#include "fiber/fiber_control.hpp"
#include "switch.hpp"

namespace cospace::detail {

[[gnu::tls_model("initial-exec")]] thread_local constinit exception_state* t_fiber_context_thread = nullptr;

exception_state* fiber_context_thread() {
  exception_state* thread = t_fiber_context_thread;
  if (thread == nullptr) [[unlikely]] {
    prepare_thread_for_fibers();
    thread = thread_exception_state();
    t_fiber_context_thread = thread;
  }
  return thread;
}

namespace {

// The checks the fast path folds into one test. Throws fiber_error (the
// handle is left as it was); otherwise returns the thread's exception state.
[[gnu::cold, gnu::noinline]] exception_state* admit(fiber_context_record* to) {
  if (to == nullptr) throw fiber_error("cospace: resume() of an empty fiber_context");
  exception_state* const thread = fiber_context_thread();
  if (never_ran(to)) {
    const fiber_context_control* c = control_of(to);
    if (fiber_context_backend.needs_stack_below_caller &&
        c->stack.top > reinterpret_cast<std::uintptr_t>(fiber_context_backend.stack_pointer())) {
      throw fiber_error("cospace: " + describe(c) +
                        " cannot start here on the sjlj backend: its stack is not below the "
                        "resuming context's (start it from a context whose stack is above it)");
    }
  } else if (to->thread != thread) {
    throw fiber_error("cospace: a fiber_context was resumed on another thread than the one it was suspended on; a "
                      "fiber_context that has run stays on its thread (see can_resume())");
  }
  return thread;
}

bool unusual(const fiber_context_record* to, const exception_state* thread) noexcept {
  return to == nullptr || thread == nullptr || to->thread != thread;
}

// resume_with's function, on top of the resumed context. What it returns is
// what that context's pending resume() returns; what it throws leaves there.
cospace_transfer run_on_top(cospace_transfer t) {
  fiber_context_record* const from = record_of(t);
  from->context = t.from;
  fiber_context_record* const to = from->target;
  arrive_on_top(*to, from);
  if (!never_ran(to)) return transfer_of(record_of(from->ontop(from->ontop_object, from)));
  // A fresh context has no pending resume() to throw into: the result goes
  // to its entry, an exception is fatal (as one escaping the entry is).
  fiber_context_control* const c = control_of(to);
  fiber_context_record* result = nullptr;
  try {
    result = record_of(from->ontop(from->ontop_object, from));
  } catch (...) {
    fatal(describe(c) + ": the function given to resume_with threw before the context ever ran; "
                        "there is no resume() in it for the exception to leave through");
  }
  c->first_from = result;
  return {transfer_of(result).from, to};
}

}  // namespace

namespace {

// The switch proper: empties the handle, leave(), then jump (data: what the
// resumed side receives) or, with `on_top`, ontop. Inlined into each caller
// so that the jump stays a tail call.
[[gnu::always_inline]] inline cospace_transfer switch_to(void** handle, fiber_context_record* to,
                                                         fiber_context_record* me, void* data,
                                                         exception_state* thread,
                                                         cospace_ontop_function on_top = nullptr) {
  *handle = nullptr;
  leave(*me, *to, thread);
  if constexpr (completes_after_jump) {
    const cospace_transfer t = on_top != nullptr ? fiber_context_backend.ontop(to->context, data, on_top)
                                                 : fiber_context_backend.jump(to->context, data);
    complete(*me, t);
    return t;
  } else {
    if (on_top != nullptr) return fiber_context_backend.ontop(to->context, data, on_top);
    return fiber_context_backend.jump(to->context, data);
  }
}

// resume() when unusual(): the checks, then the switch; a context that never
// ran gets its own record with the first transfer (record.hpp).
[[gnu::cold, gnu::noinline]] cospace_transfer resume_unusual(void** handle, fiber_context_record* me) {
  fiber_context_record* const to = record_of(*handle);
  exception_state* const thread = admit(to);
  void* data = me;
  if (never_ran(to)) {
    control_of(to)->first_from = me;
    data = to;
  }
  return switch_to(handle, to, me, data, thread);
}

}  // namespace

cospace_transfer resume_fiber_context(void** handle, fiber_context_record_storage* storage) {
  fiber_context_record* const to = record_of(*handle);
  fiber_context_record* const me = record_of(storage);
  exception_state* const thread = t_fiber_context_thread;
  if (unusual(to, thread)) [[unlikely]] return resume_unusual(handle, me);
  return switch_to(handle, to, me, me, thread);
}

cospace_transfer resume_fiber_context_with(void** handle, fiber_context_record_storage* storage,
                                           fiber_context_ontop fn, void* fn_object) {
  fiber_context_record* const to = record_of(*handle);
  fiber_context_record* const me = record_of(storage);
  exception_state* thread = t_fiber_context_thread;
  if (unusual(to, thread)) [[unlikely]] thread = admit(to);
  me->target = to;
  me->ontop = fn;
  me->ontop_object = fn_object;
  return switch_to(handle, to, me, me, thread, &run_on_top);
}

bool fiber_context_can_resume(const void* handle) noexcept {
  const auto* r = static_cast<const fiber_context_record*>(handle);
  return r != nullptr && (never_ran(r) || r->thread == thread_exception_state());
}

}  // namespace cospace::detail
