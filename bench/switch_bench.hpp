// The context-switch benchmarks' shape, on top of op_bench.hpp's accounting
// and summary.
//
// Every switch benchmark is a ping-pong between the benchmark thread and one
// context: each iteration jumps to the context, which jumps straight back, so
// an iteration is a round trip of exactly two one-way switches. Figures are
// per one-way switch; ratios use CPU time (see op_bench.hpp for why).
#pragma once

#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <utility>

#include "op_bench.hpp"

namespace cospace::bench {

// One iteration = one round trip = two one-way switches.
inline constexpr double switches_per_iteration = 2;

// Call after the timed loop: items_per_second becomes switches per second and
// the counter per_switch the CPU time of one switch (printed as e.g. "2.5ns").
inline void report_switches(benchmark::State& state) {
  report_ops(state, switches_per_iteration, "per_switch");
}

// Registers a switch benchmark with the common settings.
inline void register_switch(const char* name, void (*fn)(benchmark::State&)) {
  benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kNanosecond);
}

// A summary whose rows are switches, each also shown as a ratio to
// `reference`. Add ratio lines with switch_ratio.
inline op_summary_spec switch_summary(std::string title, std::string reference) {
  op_summary_spec spec;
  spec.title = std::move(title);
  spec.unit = "one-way switch";
  spec.references.push_back({"", std::move(reference)});
  return spec;
}

// numerator / denominator in the summary, with an optional "target <= x".
inline summary_line switch_ratio(std::string numerator, std::string denominator,
                                 std::optional<double> target = std::nullopt) {
  return {"", std::move(numerator), std::move(denominator), target, ""};
}

inline int run_switch_benchmarks(int argc, char** argv, void (*register_all)(), const op_summary_spec& spec) {
  return run_op_benchmarks(argc, argv, register_all, spec);
}

}  // namespace cospace::bench
