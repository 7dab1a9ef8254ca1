// The alternatives that run in a process of their own: Go (an embedded program
// built with the `go` found on the machine) and greenlet (an embedded script
// run by a Python that can import it). Each measures itself with the same
// method as the suite (calibrated batches, median of repetitions; memory as
// VmRSS + VmPTE before and while N are suspended) and prints "key=value"
// lines. When one is missing it says why, and the suite skips its rows.
#pragma once

#include <cstddef>
#include <string>

#include "child_process.hpp"
#include "measure.hpp"

namespace cospace::tool::bench {

struct alternative_status {
  bool available = false;
  std::string version;  // "go1.19.8", "greenlet 2.0.2, Python 3.11.2"
  std::string program;  // the go or python3 used
  std::string reason;   // why it is not available
};

// Go: the program is written to a temporary directory and built once with
// `go build` (the toolchain's cache makes this fast after the first time);
// each measurement then runs the binary in a fresh process.
class go_alternative {
 public:
  go_alternative();
  ~go_alternative();
  go_alternative(const go_alternative&) = delete;
  go_alternative& operator=(const go_alternative&) = delete;

  const alternative_status& status() const noexcept { return status_; }
  // channel_ns_per_round_trip, gosched_ns_per_round_trip, spawn_ns_per_goroutine
  process_result timing(const timing_plan& plan) const;
  // N goroutines blocked `depth` bytes deep: the memory fields (memory_suite.hpp).
  process_result memory(std::size_t count, std::size_t depth, double timeout_seconds) const;

 private:
  alternative_status status_;
  std::string dir_;
};

// greenlet: the script is passed with -c to the first of /usr/bin/python3 and
// python3 (on PATH) that can import greenlet.
class greenlet_alternative {
 public:
  greenlet_alternative();
  const alternative_status& status() const noexcept { return status_; }
  // switch_ns_per_round_trip, spawn_ns_per_greenlet
  process_result timing(const timing_plan& plan) const;
  process_result memory(std::size_t count, std::size_t depth, double timeout_seconds) const;

 private:
  alternative_status status_;
};

}  // namespace cospace::tool::bench
