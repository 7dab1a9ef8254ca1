// The stack under a fiber, of whichever kind it asked for. This is the seam
// between the fiber core and the stack layer: the core sees a top, a bottom
// and (for region stacks) the region whose guard and growth the space manages.
#pragma once

#include <cospace/fiber.hpp>

#include <cstddef>
#include <cstdint>

#include "space/region.hpp"

namespace cospace::detail {

struct slice;
struct pooled_stack;

// Part of every fiber's record, and so of every suspended sliced fiber's
// memory: what only one kind needs shares its place with what only another
// kind needs.
struct fiber_stack {
  stack_kind kind = stack_kind::region;
  std::uint32_t debug_slot = 0;  // sliced stacks: the record's place in sliced_registry.hpp (in padding)
  union {
    std::uintptr_t top = 0;   // region and fixed stacks: 16-byte aligned; the fiber's record sits just below
    pooled_stack* shared;     // sliced stacks: the shared stack (its top is the slice's base)
  };
  std::uintptr_t bottom = 0;  // the lowest address the stack may ever use
  region* owner_region = nullptr;  // region stacks; sliced stacks: the shared stack's
  // (fixed stacks: the mapping is [bottom - one page of guard, top))
  slice* sliced = nullptr;         // sliced stacks: the fiber's slice (in its heap record); null otherwise
};

// Names longer than this are refused (they are copied into the fiber's record).
inline constexpr std::size_t max_fiber_name = 255;

// Throws fiber_error for options that cannot work together (shared by every
// kind of fiber handle: cospace::fiber, fiber_context, the C API).
void check_fiber_options(const fiber_options& options);

// Throws fiber_error (bad options) or space_error (no memory, refused calls).
// A sliced stack is a share of one of the thread's shared stacks; the slice
// itself lives with the fiber's record on the heap (lifetime.cpp).
fiber_stack acquire_fiber_stack(const fiber_options& options, region* parent);
void release_fiber_stack(fiber_stack& stack) noexcept;

// Fixed-size stacks come from a pool (mapped once, guard page below, reused).
fiber_stack acquire_fixed_stack(std::size_t size);
void release_fixed_stack(fiber_stack& stack) noexcept;

}  // namespace cospace::detail
