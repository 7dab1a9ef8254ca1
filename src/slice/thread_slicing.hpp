// What each thread keeps for slicing: its copier (a context on a small region
// of its own, where copies run) and its shared stacks (regions of the global
// space that sliced fibers take turns on), plus the stack domain of the C
// runtime primitives.
//
// Shared stacks belong to the thread that made them; sliced fibers assigned
// to them never run on another thread. A shared stack is released when its
// last user (a fiber or the thread's pool) lets it go.
#pragma once

#include <cospace/context.h>
#include <cospace/slicing.hpp>

#include <atomic>
#include <cstddef>

#include "slice.hpp"

namespace cospace::detail {

struct pooled_stack {
  shared_stack stack;
  std::atomic<std::size_t> users{1};  // the pool's own reference
  const void* owner_thread = nullptr;  // the thread_slicing that made it
};

// A shared stack for a new sliced fiber of the calling thread (one more
// user). max_stack: 0 for the configured limit. Throws space_error/fiber_error.
pooled_stack* take_shared_stack(std::size_t max_stack);
void leave_shared_stack(pooled_stack* s) noexcept;

// True when the calling thread made `s`.
bool on_owner_thread(const pooled_stack* s) noexcept;

// The calling thread's copier context (made on first use) and the place the
// copier leaves its own handle when it jumps away.
cospace_context& copier_context();
// The copier's region: current while the copier runs, so that a fault on
// its stack is taken for growth of the copier's stack, not of the fiber's.
region* copier_region();
// The lowest address of the copier's region: on the sjlj backend fresh
// contexts are entered from the copier, so they must lie below it.
std::uintptr_t copier_bottom();

// The stack domain of the C primitives on the calling thread (one per thread).
shared_stack& declared_stack_domain() noexcept;

}  // namespace cospace::detail
