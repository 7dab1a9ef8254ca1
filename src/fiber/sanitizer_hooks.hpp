// What AddressSanitizer, ThreadSanitizer and Valgrind must be told when a
// fiber is made, switched to and from, and ended. Every hook compiles to
// nothing unless its tool is in use (Valgrind's client requests, made only at
// creation and end, never on a switch, are skipped after one compare when the
// process does not run under Valgrind: see space/sanitizer.hpp).
//
// The protocol, for a switch from A to B:
//   A: before_switch(A's hooks, B's stack)      -- ASan: start_switch_fiber; TSan: switch_to_fiber
//   ... the context switch ...
//   B: after_switch(B's hooks)                   -- ASan: finish_switch_fiber
// A fiber's last switch passes `ending = true`, so ASan frees its fake stack.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define COSPACE_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define COSPACE_TSAN 1
#endif
#include "space/sanitizer.hpp"  // COSPACE_VALGRIND, under_valgrind()

namespace cospace::detail {

// ThreadSanitizer keeps a shadow call stack and per-frame state for each
// fiber; frames copied to the heap and back behind its back corrupt that
// state, so sliced fibers are refused in TSan builds.
#if COSPACE_TSAN
inline constexpr bool tools_follow_stack_copies = false;
#else
inline constexpr bool tools_follow_stack_copies = true;
#endif

// Whether a switch has hooks around it that must run in one frame with the
// jump (no instrumented frame may open on one side of a switch and close on
// the other). Without them, fiber::resume() and this_fiber::yield() make
// their jumps as tail calls (switch.cpp).
#if COSPACE_ASAN || COSPACE_TSAN
inline constexpr bool tools_watch_switches = true;
#else
inline constexpr bool tools_watch_switches = false;
#endif

// Per side of a switch: where its stack is and what the tools keep for it.
struct sanitizer_side {
  const void* stack_bottom = nullptr;  // ASan: the stack's lowest address and size
  std::size_t stack_size = 0;
  void* fake_stack = nullptr;          // ASan: the fake stack of the side that left
  void* tsan_fiber = nullptr;          // TSan: the side's fiber
};

// Only what the tools in use need: in a build with none of them this is
// empty but for Valgrind's id (the record is part of every sliced fiber's
// resident memory, so it matters).
struct sanitizer_fiber {
#if COSPACE_ASAN || COSPACE_TSAN
  sanitizer_side fiber;    // the fiber's own stack
  sanitizer_side resumer;  // whoever resumed it (learnt when the fiber starts running)
  sanitizer_side inherited;     // after a symmetric transfer: the resumer it takes over
  bool inherit_pending = false;
#endif
#if COSPACE_VALGRIND
  unsigned valgrind_stack_id = 0;
#endif
};

inline void on_fiber_created([[maybe_unused]] sanitizer_fiber& s, [[maybe_unused]] std::uintptr_t bottom,
                             [[maybe_unused]] std::uintptr_t top) noexcept {
#if COSPACE_ASAN || COSPACE_TSAN
  s.fiber.stack_bottom = reinterpret_cast<const void*>(bottom);
  s.fiber.stack_size = top - bottom;
#endif
#if COSPACE_TSAN
  s.fiber.tsan_fiber = __tsan_create_fiber(0);
#endif
#if COSPACE_VALGRIND
  if (under_valgrind()) s.valgrind_stack_id = VALGRIND_STACK_REGISTER(bottom, top);
#endif
}

// The fiber's own side (stack bounds, TSan fiber), for code that keeps it
// elsewhere (fiber_context's records).
inline sanitizer_side own_side([[maybe_unused]] const sanitizer_fiber& s) noexcept {
#if COSPACE_ASAN || COSPACE_TSAN
  return s.fiber;
#else
  return {};
#endif
}

inline void on_fiber_destroyed([[maybe_unused]] sanitizer_fiber& s) noexcept {
#if COSPACE_TSAN
  if (s.fiber.tsan_fiber != nullptr) __tsan_destroy_fiber(s.fiber.tsan_fiber);
#endif
#if COSPACE_VALGRIND
  if (under_valgrind()) VALGRIND_STACK_DEREGISTER(s.valgrind_stack_id);
#endif
}

// The resumer is about to switch into the fiber.
inline void before_resume([[maybe_unused]] sanitizer_fiber& s) noexcept {
#if COSPACE_TSAN
  s.resumer.tsan_fiber = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(s.fiber.tsan_fiber, 0);
#endif
#if COSPACE_ASAN
  __sanitizer_start_switch_fiber(&s.resumer.fake_stack, s.fiber.stack_bottom, s.fiber.stack_size);
#endif
}

// The resumer is running again.
inline void after_resume([[maybe_unused]] sanitizer_fiber& s) noexcept {
#if COSPACE_ASAN
  __sanitizer_finish_switch_fiber(s.resumer.fake_stack, nullptr, nullptr);
#endif
}

// The fiber is running (first entry or back from a yield): learn the resumer's
// stack — or, after a symmetric transfer, take over the leaving fiber's resumer.
inline void fiber_arrived([[maybe_unused]] sanitizer_fiber& s) noexcept {
#if COSPACE_ASAN
  __sanitizer_finish_switch_fiber(s.fiber.fake_stack, &s.resumer.stack_bottom, &s.resumer.stack_size);
  if (s.inherit_pending) {
    s.resumer.stack_bottom = s.inherited.stack_bottom;
    s.resumer.stack_size = s.inherited.stack_size;
    s.inherit_pending = false;
  }
#endif
}

// Symmetric transfer, on the leaving fiber: it switches straight to `to`.
inline void fiber_leaving_to([[maybe_unused]] sanitizer_fiber& from,
                             [[maybe_unused]] sanitizer_fiber& to) noexcept {
#if COSPACE_TSAN
  __tsan_switch_to_fiber(to.fiber.tsan_fiber, 0);
#endif
#if COSPACE_ASAN
  __sanitizer_start_switch_fiber(&from.fiber.fake_stack, to.fiber.stack_bottom, to.fiber.stack_size);
#endif
}

// Symmetric transfer, on the target: it yields to the leaving fiber's resumer.
inline void inherit_resumer([[maybe_unused]] sanitizer_fiber& to,
                            [[maybe_unused]] const sanitizer_fiber& from) noexcept {
#if COSPACE_TSAN
  to.resumer.tsan_fiber = from.resumer.tsan_fiber;
#endif
#if COSPACE_ASAN
  to.inherited = from.resumer;
  to.inherit_pending = true;
#endif
}

// The fiber is about to switch back to its resumer (ending: for the last time).
inline void fiber_leaving([[maybe_unused]] sanitizer_fiber& s, [[maybe_unused]] bool ending) noexcept {
#if COSPACE_TSAN
  __tsan_switch_to_fiber(s.resumer.tsan_fiber, 0);
#endif
#if COSPACE_ASAN
  __sanitizer_start_switch_fiber(ending ? nullptr : &s.fiber.fake_stack, s.resumer.stack_bottom,
                                 s.resumer.stack_size);
#endif
}

}  // namespace cospace::detail
