// The in-process timings of `cospace bench`: context switch, fiber resume +
// yield, create + run + destroy, and a sliced fiber's switch against the depth
// of its stack, for cospace and (when linked) Boost.Context. The alternatives
// that run in other processes (Go, greenlet) add rows to the same sections.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "measure.hpp"

namespace cospace::tool::bench {

struct timing_row {
  std::string name;         // key in the JSON, e.g. "cospace_asm"
  std::string description;  // what is timed, for people
  std::optional<double> ns;  // empty: not measured, `reason` says why
  std::string reason;
  std::optional<std::size_t> depth_bytes;  // sliced-vs-depth rows
};

struct timing_section {
  std::string key;         // "switch", "resume_yield", ...
  std::string title;       // printed heading
  std::string unit_field;  // JSON field of the figure: "ns_per_switch", ...
  std::vector<timing_row> rows;

  const timing_row* find(const std::string& name) const;
};

// Every section, in print order, with the cospace and Boost rows measured.
std::vector<timing_section> run_timing_suite(const timing_plan& plan, bool quick);

// The section with this key (it exists: run_timing_suite made it).
timing_section& section(std::vector<timing_section>& sections, const std::string& key);

}  // namespace cospace::tool::bench
