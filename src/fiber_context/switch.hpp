// The two halves of a fiber_context switch, shared by resume, resume_with,
// destruction and the end of a context.
//
// leave(): on the leaving side, before the jump. Saves the thread's state
//   into the leaving context's record and loads the target's:
//     - the C++ exception state (exception_state.hpp): copied out and in;
//     - the region the fault handler must treat as the running stack;
//     - the thread (can_resume() and resume() compare it);
//     - ASan: start_switch_fiber with the target's stack bounds (its fake
//       stack kept in the leaving record); TSan: switch_to_fiber.
// arrive(): on the arriving side, only in ASan builds: finish_switch_fiber,
//   which also reports the leaving side's stack bounds; they go into the
//   leaving record, for whoever resumes it later. It runs exactly once per
//   switch: in a function run on top of the target (resume_with, unwinding,
//   the end of a context), which marks the target `arrived`, or else after
//   the target's own pending jump returns (complete()).
#pragma once

#include "context/backend.hpp"
#include "record.hpp"
#include "space/fault_handler.hpp"

namespace cospace::detail {

inline constexpr const context::backend& fiber_context_backend = context::selected;

// This thread's exception state, once this thread has been prepared for
// running contexts (alternate signal stack for the fault handler); null
// before. Its address also identifies the thread.
[[gnu::tls_model("initial-exec")]] extern thread_local constinit exception_state* t_fiber_context_thread;

// Prepares the thread on first use; returns its exception state.
exception_state* fiber_context_thread();

inline void leave(fiber_context_record& me, const fiber_context_record& to, exception_state* thread) noexcept {
  me.thread = thread;
  me.exceptions = *thread;
  *thread = to.exceptions;
  me.running_region = current_region();
  set_current_region(to.running_region);
#if COSPACE_TSAN
  me.tools.tsan_fiber = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(to.tools.tsan_fiber, 0);
#endif
#if COSPACE_ASAN
  me.arrived = false;
  __sanitizer_start_switch_fiber(&me.tools.fake_stack, to.tools.stack_bottom, to.tools.stack_size);
#endif
}

// The last switch away from a context that has ended: nothing of it is saved.
inline void leave_for_good(const fiber_context_record& to, exception_state* thread) noexcept {
  *thread = to.exceptions;
  set_current_region(to.running_region);
#if COSPACE_TSAN
  __tsan_switch_to_fiber(to.tools.tsan_fiber, 0);
#endif
#if COSPACE_ASAN
  __sanitizer_start_switch_fiber(nullptr, to.tools.stack_bottom, to.tools.stack_size);
#endif
}

inline void arrive([[maybe_unused]] fiber_context_record& me, [[maybe_unused]] fiber_context_record* from) noexcept {
#if COSPACE_ASAN
  const void* bottom = nullptr;
  std::size_t size = 0;
  __sanitizer_finish_switch_fiber(me.tools.fake_stack, &bottom, &size);
  if (from != nullptr) {
    from->tools.stack_bottom = bottom;
    from->tools.stack_size = size;
  }
#endif
}

// In a function run on top of `me` before its pending jump returns.
inline void arrive_on_top(fiber_context_record& me, fiber_context_record* from) noexcept {
  arrive(me, from);
  me.arrived = true;
}

// ASan builds only: after `me`'s pending jump returned with t. Elsewhere
// nothing runs after a jump, so that the jump is the caller's tail call (GCC
// gives up the tail call if the result passes through even an inline
// function, hence `if constexpr (completes_after_jump)` at each call site).
#if COSPACE_ASAN
inline constexpr bool completes_after_jump = true;
#else
inline constexpr bool completes_after_jump = false;
#endif

inline void complete([[maybe_unused]] fiber_context_record& me, [[maybe_unused]] cospace_transfer t) noexcept {
#if COSPACE_ASAN
  if (!me.arrived) arrive(me, record_of(t));
#endif
}

}  // namespace cospace::detail
