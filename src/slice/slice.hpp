// Stack slicing: many users take turns on one stack; whoever is not running
// keeps the bytes it had there ("its slice") in a heap block until it runs
// again. The bookkeeping here is shared by sliced fibers (stack_kind::sliced,
// on shared stacks that are regions of a space) and by the C runtime
// primitives (cospace/slice.h, on any stack a runtime declares a base on).
//
// A slice occupies [low, base) of its stack: `base` is fixed for its life,
// `low` is its stack pointer when it last stopped (less a backend margin, see
// live_below_handle). While a slice is not running its bytes are in two
// parts:
//
//     base  ->  +--------------------+
//               | still on the stack |   [low + saved_size, base): resident
//               +--------------------+
//               | saved in the heap  |   [low, low + saved_size): the inline area, then `saved`
//     low   ->  +--------------------+
//
// The saved part is always a prefix from `low` upwards, because whoever runs
// next takes the stack from its own base downwards: a slice whose base is at
// or below the newcomer's loses all its bytes, one whose base is above keeps
// the part above the newcomer's base (nested bases, greenlet-style).
//
// Invariants, for every stack (checked by check_invariants in tests):
//   1. every slice with resident bytes is on the stack's `resident` list,
//      and no slice off the list has any;
//   2. the resident parts of the slices on the list never overlap, and none
//      overlaps the running user's area below its base;
//   3. a slice's inline area and heap block hold exactly saved_size valid
//      bytes (the inline area first).
// Saving is lazy: a slice that stops is not copied anywhere. Its bytes are
// saved only when another slice is about to be made resident over them, so a
// slice resumed with nobody in between copies nothing at all.
#pragma once

#include <cstddef>
#include <cstdint>

#include "context/backend.hpp"

namespace cospace::detail {

struct region;
struct slice;

// One stack that slices take turns on.
struct shared_stack {
  std::uintptr_t top = 0;      // highest address + 1 of the stack
  std::uintptr_t bottom = 0;   // lowest address the stack may reach (0: unknown)
  region* owner_region = nullptr;  // a region of a space, or null (a runtime's own stack)
  slice* resident = nullptr;   // slices with bytes on the stack, most recent first

  bool contains(std::uintptr_t address) const noexcept { return address >= bottom && address < top; }
};

// 48 bytes: one lives in every suspended sliced fiber's record and every
// C tasklet, followed in the same heap block by its inline area: room for
// the first `inline_units` * 16 saved bytes, so that a slice whose owner's
// kind saved about as much before needs no heap block of its own (one
// malloc header and one rounding less per suspended fiber). What does not
// fit goes to `saved`, a heap block whose capacity is not stored: it is
// what malloc says the block holds (malloc_usable_size), so blocks carry no
// slack of their own beyond malloc's 16-byte granule. The saved bytes are
// one sequence: its first inline_bytes() in the inline area, the rest in
// `saved`.
struct slice {
  shared_stack* stack = nullptr;
  std::uintptr_t base = 0;     // set once, when the slice is made
  unsigned char* saved = nullptr;  // the overflow heap block (malloc), or null
  slice* next_resident = nullptr;
  // base - the lowest live address, meaningful while the slice is not
  // running. Negative only for an attached slice stopped above the base it
  // was given (nothing of it is live then). 32 bits, not a pointer, so that
  // owner_count fits in 48 bytes: slice_stopped_at refuses a slice over 2 GiB.
  std::int32_t depth = 0;
  std::uint32_t saved_size = 0;
  std::uint32_t owner_count = 0;  // not used here: a count for the owner (cospace_slice: the slices returning to it)
  bool resident = false;
  std::uint8_t owner_byte = 0;  // not used here: a byte for the owner (cospace_slice keeps its state in it)
  std::uint8_t inline_units = 0;  // the inline area's size, in 16-byte units
  std::uint8_t hint_slot = 0;     // the size hint this slice's saves update (see inline_plan), 0: none

  // Modulo 2^64: a negative depth puts low above base.
  std::uintptr_t low() const noexcept { return base - static_cast<std::uintptr_t>(std::intptr_t{depth}); }
  // `address` within 2 GiB of base (depth_fits).
  void set_low(std::uintptr_t address) noexcept { depth = static_cast<std::int32_t>(static_cast<std::intptr_t>(base - address)); }
  bool depth_fits(std::uintptr_t address) const noexcept {
    const auto d = static_cast<std::intptr_t>(base - address);
    return d >= INT32_MIN && d <= INT32_MAX;
  }
  std::size_t inline_bytes() const noexcept { return std::size_t{inline_units} * 16; }
  unsigned char* inline_area() noexcept { return reinterpret_cast<unsigned char*>(this + 1); }
  const unsigned char* inline_area() const noexcept { return reinterpret_cast<const unsigned char*>(this + 1); }
};
static_assert(sizeof(slice) == 48, "every byte of a slice is in every suspended fiber and tasklet");

// The inline area for a new slice whose owner is of kind `key` (a fiber's
// body type, a C slice's function): as large as the last save of a slice
// of that kind on this thread (saves keep the hint current), none for a
// kind not seen yet. Whoever makes the slice allocates inline_bytes() more
// right after it and copies `units` and `slot` into it. A wrong guess
// costs memory, never correctness: a slice that outgrows its inline area
// keeps the rest in its heap block.
struct inline_plan {
  std::uint8_t units = 0;
  std::uint8_t slot = 0;
  std::size_t bytes() const noexcept { return std::size_t{units} * 16; }
};
inline_plan plan_inline(const void* key) noexcept;
inline void adopt(slice& s, inline_plan plan) noexcept {
  s.inline_units = plan.units;
  s.hint_slot = plan.slot;
}

// Counters of the calling thread, for tests and benchmarks.
struct slice_counters {
  std::uint64_t saves = 0;            // slices (or parts) copied to the heap
  std::uint64_t restores = 0;         // slices copied back
  std::uint64_t bytes_saved = 0;
  std::uint64_t bytes_restored = 0;
  std::uint64_t switches_in = 0;      // make_resident calls
  std::uint64_t copy_free = 0;        // ... that found the slice already in place
};
slice_counters& this_thread_slice_counters() noexcept;

// Bytes below a suspended context's handle that its pending jump still
// needs: 0 for the asm backend (the handle is the stack pointer after the
// pushes), a bound on the jump function's frame below its record otherwise.
std::size_t live_below_handle() noexcept;

// Reports a slice too deep for its 32-bit depth, and aborts.
[[noreturn, gnu::cold, gnu::noinline]] void slice_too_deep() noexcept;

// Records where a slice stopped: its context handle (the backend's). On
// every switch out of a slice: inline.
inline void slice_stopped_at(slice& s, const void* handle) noexcept {
  const std::uintptr_t low = reinterpret_cast<std::uintptr_t>(handle) - context::selected.live_below_handle;
  if (!s.depth_fits(low)) [[unlikely]] slice_too_deep();  // never truncated
  s.set_low(low);
}

// Makes `target`'s bytes valid on its stack and gives it everything below its
// base: saves what other slices have there, copies `target`'s saved part
// back. Must run on a stack other than target's (see copier.hpp). Throws
// std::bad_alloc when a heap block cannot grow (nothing is lost then).
void make_resident(slice& target);

// A slice that will never run again: forget it (its heap block is freed).
void drop_slice(slice& s) noexcept;

// Bytes a slice can hold saved without growing (inline area and heap block).
std::size_t slice_heap_bytes(const slice& s) noexcept;

// For tests: checks invariants 1-3 of one stack; returns a description of
// the first broken one, or null.
const char* check_slices(const shared_stack& stack) noexcept;

}  // namespace cospace::detail
