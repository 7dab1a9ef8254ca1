#include "reuse.hpp"

#include "fiber_control.hpp"

namespace cospace::detail {

bool end_job_for_reuse(fiber_control* f) noexcept {
  if (f->extras != nullptr) end_locals_and_arena(f);  // most jobs made neither fiber-locals nor an arena
  f->name = {};
  region* const r = f->stack.owner_region;
  // Its handle is being destroyed (shutdown unwinding a body that swallowed
  // forced_unwind): let it end, where that is reported.
  if (f->stack.kind != stack_kind::region || f->unwind_requested) return false;
  r->name = nullptr;
  // Grown, or with an arena region: the space would not park this region
  // either (release.cpp); ending the fiber gives the memory back.
  if (r->zone_hi != r->initial_zone_hi || r->arena != nullptr || r->nested_request) return false;
  const exception_state* const thrown = thread_exception_state();
  return thrown->caught_exceptions == nullptr && thrown->uncaught_exceptions == 0;
}

std::uint64_t begin_reused_job(fiber_control* f, std::string_view name) noexcept {
  const std::uint64_t id = fresh_fiber_id();
  f->id = id;
  f->name = name;
  f->stack.owner_region->name = name.empty() ? nullptr : name.data();
  f->stack.owner_region->id = id;
  return id;
}

}  // namespace cospace::detail
