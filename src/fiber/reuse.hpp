// Running one job after another in the same fiber, each as if the fiber
// were fresh: the scheduler's task fibers do this (src/sched/scheduler.cpp),
// saving the making and destroying of a fiber per spawned task.
//
// Between two jobs the running fiber itself calls end_job_for_reuse(), then
// suspends; before the next job it calls begin_reused_job(). Both take the
// running fiber's record, which its body reads once (current_fiber()) for
// all its jobs: a fiber's record stays the same wherever it runs. What a job can
// see of its fiber is then what a fresh fiber shows: a new id, the job's
// name, no fiber-local values, a fresh this_fiber::arena(), a clean C++
// exception state and a stack at its initial size.
#pragma once

#include <cstdint>
#include <string_view>

namespace cospace::detail {

class fiber_control;

// The next fiber id (unique in the process): from this thread's block of
// ids, taken from a process-wide counter when it runs out (lifetime.cpp).
[[gnu::tls_model("initial-exec")]] extern constinit thread_local std::uint64_t t_next_fiber_id;
[[gnu::tls_model("initial-exec")]] extern constinit thread_local std::uint64_t t_fiber_id_limit;
[[gnu::noinline]] std::uint64_t next_fiber_id_block() noexcept;  // takes a block, returns its first id
inline std::uint64_t fresh_fiber_id() noexcept {
  if (t_next_fiber_id == t_fiber_id_limit) [[unlikely]] return next_fiber_id_block();
  return t_next_fiber_id++;
}

// The running fiber `f`'s job is over: its fiber-locals end (their destructors
// run here, on the fiber), then its arena, and its name is dropped. True if
// it may run another job: a region stack that has not grown past its
// initial size and carries no arena region, so that it pins no more memory
// than a parked region of its space would; no exception caught or in
// flight. False: let the fiber end.
bool end_job_for_reuse(fiber_control* f) noexcept;

// The running fiber `f` starts another job: a new id, which it returns, and
// `name` (NUL-terminated, valid until end_job_for_reuse()) for
// this_fiber::name() and the diagnostics.
std::uint64_t begin_reused_job(fiber_control* f, std::string_view name) noexcept;

}  // namespace cospace::detail
