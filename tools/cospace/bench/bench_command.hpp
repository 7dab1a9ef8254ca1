// `cospace bench` and `cospace plot`: the benchmark suite of the command, next
// to the alternatives found on the machine (Boost.Context, Go, greenlet).
//
// Both return the process's exit code: 0 on success, 2 when the output file
// cannot be written (with a one-line error on stderr), 1 when a measurement
// failed outright.
#pragma once

#include <string>

namespace cospace::tool {

struct bench_request {
  bool quick = false;  // fewer repetitions and fiber counts: answers in under 20 seconds
  bool json = false;   // one JSON document on stdout instead of tables
};
int run_bench(const bench_request&);

struct plot_request {
  std::string svg_path;  // where the chart goes
  bool quick = false;    // fewer fiber counts
};
int run_plot(const plot_request&);

}  // namespace cospace::tool
