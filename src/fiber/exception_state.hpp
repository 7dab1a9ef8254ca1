// The C++ runtime's per-thread exception state (libstdc++'s __cxa_eh_globals:
// the stack of caught exceptions and the uncaught count) belongs to whatever
// runs on the thread. A fiber that suspends inside a catch block, or while an
// exception is in flight through it, takes its part of that state with it;
// otherwise std::current_exception() and std::uncaught_exceptions() would
// leak between fibers, and a fiber destroyed mid-catch would corrupt the
// thread's chain (Boost.Context's issue 302).
//
// One slot per fiber, swapped with the thread's on every switch: while the
// fiber is suspended the slot holds the fiber's state; while it runs, the
// slot holds its resumer's.
#pragma once

#include <cxxabi.h>

namespace cospace::detail {

// The layout of __cxa_eh_globals outside ARM EHABI (x86-64, AArch64, RISC-V).
struct exception_state {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

[[gnu::tls_model("initial-exec")]] extern thread_local constinit exception_state* t_exception_state;

// The thread's first ask, out of line: a call on the switch path would make
// every switch save registers for it.
[[gnu::noinline, gnu::cold]] exception_state* first_thread_exception_state() noexcept;

// The address is fixed for the thread's life: ask the runtime once.
inline exception_state* thread_exception_state() noexcept {
  exception_state* const state = t_exception_state;
  if (state == nullptr) [[unlikely]] return first_thread_exception_state();
  return state;
}

// A symmetric transfer from running fiber `from` to suspended `to`, as
// swap_exception_state(from) then swap_exception_state(to) would leave
// it: from's own state (on the thread) back in its slot, to's own on the
// thread, and the resumer's (in from's slot) in to's slot, `to` taking
// from's place. One read of the thread-local instead of two.
inline void pass_exception_state(exception_state& from, exception_state& to) noexcept {
  exception_state* thread = thread_exception_state();
  const exception_state resumers = from;  // from runs: its slot holds its resumer's state
  from = *thread;
  *thread = to;
  to = resumers;
}

inline void swap_exception_state(exception_state& slot) noexcept {
  exception_state* thread = thread_exception_state();
  const exception_state held = *thread;
  *thread = slot;
  slot = held;
}

}  // namespace cospace::detail
