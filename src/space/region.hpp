// A region: one contiguous piece of a space's reservation.
//
// The regions of a space partition its reservation exactly, in address order
// (`below` / `above` link neighbours). Each is one of:
//   stack   a fiber's stack at its top, its guard zone below the usable part,
//           and below that its free part [lo, zone_lo);
//   arena   a fiber's region heap: allocations bump down from hi, and the
//           part below the bump pointer is its free part;
//   open    the free span at the top of the reservation with no stack above
//           it (the whole reservation when the space is idle).
// A region's free part is what placement may split off: the lower half of it
// becomes a new region. When a region ends, its space joins the region above
// (whose free part it extends) or, at the top, the open span: every free byte
// always belongs to exactly one region's free part.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cospace::detail {

class space_impl;

enum class region_kind : std::uint8_t { stack, arena, open };
// quarantined: a region whose release failed (a guard may remain in it); it
// stays out of use for the life of the space.
enum class region_state : std::uint8_t { live, parked, quarantined };

struct region {
  std::uintptr_t lo = 0, hi = 0;            // [lo, hi) in the reservation
  std::uintptr_t zone_lo = 0, zone_hi = 0;  // stack: the guard zone; arena: lo/bump; open: lo
  std::uintptr_t top = 0;                   // stack: the stack top (hi minus colour)
  std::uintptr_t initial_zone_hi = 0;       // stack: where the zone starts; parking restores it
  std::size_t max_stack = 0;                // stack: the deepest it may grow (from top)
  class space_impl* space = nullptr;        // the space this region belongs to
  region* below = nullptr;
  region* above = nullptr;
  std::size_t heap_index = 0;               // position in the space's free-part heap
  region* arena = nullptr;                  // stack: its region heap, if one was carved
  region* owner = nullptr;                  // arena: the stack region it belongs to
  std::uintptr_t arena_committed = 0;       // arena, commit_on_use: lowest writable address
  const char* name = nullptr;               // diagnostics: the fiber's name, or null
  std::uint64_t id = 0;                     // diagnostics: the fiber's id
  std::uint32_t growths = 0;
  bool nested_request = false;              // stack: wanted nested placement (never parked)
  region_kind kind = region_kind::open;
  region_state state = region_state::live;

  // The bottom of what this region itself uses; [lo, free_top()) is its free part.
  std::uintptr_t free_top() const noexcept { return kind == region_kind::open ? hi : zone_lo; }
  std::size_t free_bytes() const noexcept { return free_top() - lo; }
  std::size_t stack_depth() const noexcept { return top - zone_hi; }
};

}  // namespace cospace::detail
