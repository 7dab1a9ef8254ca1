// Before a space's lock is taken on a warm path: prefault the caller's stack
// only where a fault inside the critical section could need that lock.
//
// Why prefault at all (spin_lock.hpp): the SIGSEGV handler takes the lock of
// the current region's space to grow its stack. A critical section that
// faulted on its own stack's guard zone would find the lock held by its own
// thread (an abort, not a deadlock, but a crash all the same), so every
// section must start with enough stack mapped below it. prefault_stack()
// guarantees that by touching critical_section_stack bytes below the caller,
// four pages touched on every lock. Most of the time nothing needs touching:
//   - on a stack that is not a region's (a thread's own, a fixed stack: no
//     current region), the handler takes no lock: it forwards every fault;
//   - on a region stack whose usable part, above its guard zone, reaches
//     critical_section_stack below the caller, no access there faults on the
//     zone (it is mapped, or the kernel maps it silently: not a SIGSEGV).
//     The zone moves only on the region's own thread (growth, trimming), so
//     reading it here, unlocked, is exact.
// Anything else (near the zone; or a stack pointer outside the current
// region, e.g. a local living on ASan's fake stack) prefaults as before.
#pragma once

#include <cstdint>

#include "fault_handler.hpp"
#include "region.hpp"
#include "spin_lock.hpp"

namespace cospace::detail {

// What prefault_stack() touches (spin_lock.cpp): every critical section of
// the space fits in it, malloc included.
inline constexpr std::uintptr_t critical_section_stack = 16 * 1024;

// Slack for the caller's own frame: `here` below is somewhere in it, at or
// above its stack pointer.
inline constexpr std::uintptr_t caller_frame_slack = 4 * 1024;

// True when `address`, an address in the caller's frame, lies on region r's
// stack with room enough below it that prefault_stack() would fault nothing
// the handler must lock for.
inline bool room_below(const region& r, std::uintptr_t address) noexcept {
  return address >= r.zone_hi + critical_section_stack + caller_frame_slack && address < r.hi;
}

[[gnu::always_inline]] inline void prefault_stack_if_needed() noexcept {
  const region* const current = current_region();
  if (current == nullptr) return;
  char here;
  asm("" : : "r"(&here));  // a real address in this frame (not optimised away)
  if (!room_below(*current, reinterpret_cast<std::uintptr_t>(&here))) prefault_stack();
}

}  // namespace cospace::detail
