// Resident memory per suspended fiber, for every stack kind and alternative:
// each figure in a fresh process. The process makes N fibers (goroutines,
// greenlets) whose bodies descend about 1 KiB and suspend there, and reads
// VmRSS + VmPTE (/proc/self/status) and the number of VMAs (/proc/self/maps)
// before making them and while all are suspended:
//
//   per fiber = (delta VmRSS + delta VmPTE) / fibers made
//
// The children print "key=value" lines:
//   created, seconds, {rss,pte}_kib_{before,suspended}, vmas_{before,suspended},
//   stop (why fewer were made than asked), unavailable (why none could be).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "alternatives.hpp"
#include "child_process.hpp"

namespace cospace::tool::bench {

// How deep every body is when it suspends.
inline constexpr std::size_t fiber_depth_bytes = 1024;

struct memory_row {
  std::string kind;
  std::size_t fibers = 0;  // asked for
  std::optional<double> created, kib_per_fiber, rss_kib_per_fiber, pte_kib_per_fiber, vmas, vmas_added, seconds,
      resident_mib;  // resident_mib: delta VmRSS + VmPTE of all of them
  std::string stop;    // why fewer than `fibers` were made
  std::string reason;  // why nothing was measured
  bool measured() const noexcept { return kib_per_fiber.has_value(); }
};

struct memory_kind {
  std::string key;    // "cospace_region", "go_goroutine", ...
  std::string label;  // for people and the chart's legend
  std::string unavailable;  // non-empty: not measured, and why
  std::function<process_result(std::size_t count, std::size_t depth, double timeout_seconds)> run;
};

// cospace region, fixed 64 KiB, sliced; Boost fixedsize_stack; Go; greenlet.
std::vector<memory_kind> memory_kinds(const go_alternative& go, const greenlet_alternative& greenlet);

// One kind at increasing counts. A count after one that stopped short, or one
// that would not fit in the memory available now (extrapolated from the
// previous count), is skipped with a reason instead of being run.
std::vector<memory_row> measure_memory_series(const memory_kind& kind, const std::vector<std::size_t>& counts,
                                              double timeout_seconds,
                                              const std::function<void(const memory_row&)>& on_row);

// The hidden child mode of `cospace bench` (child_job_variable holds the job,
// "memory KIND COUNT DEPTH"): measures, prints the fields, returns the exit code.
int run_child_job(const std::string& job);

}  // namespace cospace::tool::bench
