#include "fiber_stack.hpp"

#include <cospace/space.hpp>

#include <string>

#include "context/backend.hpp"
#include "sanitizer_hooks.hpp"
#include "slice/thread_slicing.hpp"
#include "space/space_impl.hpp"

namespace cospace::detail {

void check_fiber_options(const fiber_options& o) {
  // The common case first: a region stack, and nothing set that does not apply to it.
  if (o.stack == stack_kind::region && o.fixed_size == 0 && o.name.size() <= max_fiber_name) [[likely]]
    return;
  if (o.stack != stack_kind::region && o.stack != stack_kind::sliced && o.stack != stack_kind::fixed)
    throw fiber_error("cospace: fiber_options::stack is not a known stack_kind");
  if (o.fixed_size != 0 && o.stack != stack_kind::fixed)
    throw fiber_error("cospace: fiber_options::fixed_size applies to stack_kind::fixed only");
  if (o.max_stack != 0 && o.stack == stack_kind::fixed)
    throw fiber_error("cospace: fiber_options::max_stack does not apply to stack_kind::fixed "
                      "(use fixed_size)");
  if (o.space != nullptr && o.stack != stack_kind::region)
    throw fiber_error("cospace: fiber_options::space applies to stack_kind::region only");
  if (o.name.size() > max_fiber_name)
    throw fiber_error("cospace: fiber_options::name is longer than " + std::to_string(max_fiber_name) +
                      " characters");
}

fiber_stack acquire_fiber_stack(const fiber_options& options, region* parent) {
  switch (options.stack) {
    case stack_kind::region: {
      space_impl& in = options.space != nullptr ? options.space->impl() : global_space();
      stack_request request;
      request.max_stack = options.max_stack;
      request.parent = parent != nullptr && parent->space == &in ? parent : nullptr;
      // The sjlj backend can only enter a stack below the caller's: from
      // inside a fiber, carve the new stack from the creator's own region.
      request.nested = context::selected.needs_stack_below_caller;
      region* r = in.acquire_stack(request);
      fiber_stack s;
      s.kind = stack_kind::region;
      s.top = r->top;
      // Not r->lo: once the lock is released another thread may carve the
      // free part below this stack and move lo. The limit itself never moves.
      s.bottom = r->top - r->max_stack;
      s.owner_region = r;
      return s;
    }
    case stack_kind::fixed:
      return acquire_fixed_stack(options.fixed_size != 0 ? options.fixed_size : 64 * 1024);
    case stack_kind::sliced: {
      if constexpr (!tools_follow_stack_copies) {
        throw fiber_error("cospace: stack_kind::sliced is not available under ThreadSanitizer (it "
                          "cannot follow stacks that are copied to the heap and back); use region "
                          "stacks there");
      }
      pooled_stack* shared = take_shared_stack(options.max_stack);
      fiber_stack s;
      s.kind = stack_kind::sliced;
      s.bottom = shared->stack.bottom;
      s.owner_region = shared->stack.owner_region;
      s.shared = shared;
      return s;
    }
  }
  throw fiber_error("fiber_options::stack is not a known stack_kind");
}

void release_fiber_stack(fiber_stack& stack) noexcept {
  if (stack.kind == stack_kind::region) stack.owner_region->space->release_stack(stack.owner_region);
  else if (stack.kind == stack_kind::fixed) release_fixed_stack(stack);
  else if (stack.kind == stack_kind::sliced) leave_shared_stack(stack.shared);
}

}  // namespace cospace::detail
