// Running one job after another in the same fiber, each as if the fiber
// were fresh: the scheduler's task fibers do this (src/sched/scheduler.cpp),
// saving the making and destroying of a fiber per spawned task.
//
// Between two jobs the running fiber itself calls end_job_for_reuse(), then
// suspends; before the next job it calls begin_reused_job(). What a job can
// see of its fiber is then what a fresh fiber shows: a new id, the job's
// name, no fiber-local values, a fresh this_fiber::arena(), a clean C++
// exception state and a stack at its initial size.
#pragma once

#include <cstdint>
#include <string_view>

namespace cospace::detail {

// lifetime.cpp: the next fiber id (unique in the process).
std::uint64_t fresh_fiber_id() noexcept;

// The running fiber's job is over: its fiber-locals end (their destructors
// run here, on the fiber), then its arena, and its name is dropped. True if
// it may run another job: a region stack that has not grown past its
// initial size and carries no arena region, so that it pins no more memory
// than a parked region of its space would; no exception caught or in
// flight. False: let the fiber end.
bool end_job_for_reuse() noexcept;

// The running fiber starts another job: a new id, and `name` (NUL-
// terminated, valid until end_job_for_reuse()) for this_fiber::name() and
// the diagnostics.
void begin_reused_job(std::string_view name) noexcept;

}  // namespace cospace::detail
