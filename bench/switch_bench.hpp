// What the switch benchmarks share: the ping-pong shape's accounting, and a
// reporter that ends the run with a summary of medians and ratios.
//
// Every switch benchmark is a ping-pong between the benchmark thread and one
// context: each iteration jumps to the context, which jumps straight back, so
// an iteration is a round trip of exactly two one-way switches. Figures are
// per one-way switch.
//
// Time is the thread's CPU time (Google Benchmark's default), not real time:
// on a small shared VM other processes take the CPU away for milliseconds at a
// time, which real time counts and thread CPU time does not. The summary shows
// both; ratios use CPU time.
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "summary_main.hpp"

namespace cospace::bench {

// One iteration = one round trip = two one-way switches.
inline constexpr std::int64_t switches_per_iteration = 2;

// Call after the timed loop: items_per_second becomes switches per second and
// the counter per_switch the CPU time of one switch (printed as e.g. "2.5ns").
inline void report_switches(benchmark::State& state) {
  const auto switches = state.iterations() * switches_per_iteration;
  state.SetItemsProcessed(switches);
  // An inverted rate is seconds per item.
  state.counters["per_switch"] = benchmark::Counter(
      static_cast<double>(switches),
      static_cast<benchmark::Counter::Flags>(benchmark::Counter::kIsRate | benchmark::Counter::kInvert));
}

// Registers a switch benchmark with the common settings.
inline void register_switch(const char* name, void (*fn)(benchmark::State&)) {
  benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kNanosecond);
}

struct ratio_line {
  std::string numerator;  // benchmark names, without the /real_time suffix
  std::string denominator;
  std::optional<double> target;  // printed as "target <= x: met/NOT met" when set
};

struct summary_spec {
  std::string title;
  std::string reference;  // each row also shows its ratio to this benchmark
  std::vector<ratio_line> ratios;
  std::vector<std::string> notes;
};

namespace detail {

inline double median_of_samples(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  return n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

// ns per one-way switch of one benchmark, CPU and real time.
struct switch_figures {
  std::string name;
  std::int64_t family_index = 0;  // registration order, the order of the summary
  std::vector<double> cpu_samples;  // one per repetition reported
  std::vector<double> real_samples;
  std::optional<double> cpu_median;  // Google Benchmark's median aggregate, when reported
  std::optional<double> real_median;
  std::int64_t repetitions = 1;

  bool measured() const { return cpu_median.has_value() || !cpu_samples.empty(); }
  double cpu() const { return cpu_median ? *cpu_median : median_of_samples(cpu_samples); }
  double real() const { return real_median ? *real_median : median_of_samples(real_samples); }
};

inline double ns_per_switch(double time_per_iteration, benchmark::TimeUnit unit) {
  return time_per_iteration * 1e9 / benchmark::GetTimeUnitMultiplier(unit) / switches_per_iteration;
}

// Any reporter, plus the summary: collected from the runs it reports and
// printed after its own output, to `summary_out` (so JSON on stdout stays JSON).
template <class Reporter>
class with_summary final : public Reporter {
 public:
  using Run = benchmark::BenchmarkReporter::Run;

  template <class... Args>
  with_summary(const summary_spec& spec, std::ostream& summary_out, Args&&... args)
      : Reporter(std::forward<Args>(args)...), spec_(spec), out_(summary_out) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    Reporter::ReportRuns(runs);
    for (const Run& run : runs) collect(run);
  }

  void Finalize() override {
    Reporter::Finalize();
    print();
  }

 private:
  void collect(const Run& run) {
    if (run.error_occurred || run.counters.count("per_switch") == 0) return;  // not a switch
    const bool sample = run.run_type == Run::RT_Iteration;
    const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
    if (!sample && !median) return;
    switch_figures& f = figures_for(run.run_name.function_name, run.family_index);
    f.repetitions = std::max<std::int64_t>(f.repetitions, run.repetitions);
    const double cpu = ns_per_switch(run.GetAdjustedCPUTime(), run.time_unit);
    const double real = ns_per_switch(run.GetAdjustedRealTime(), run.time_unit);
    if (sample) {
      f.cpu_samples.push_back(cpu);
      f.real_samples.push_back(real);
    } else {
      f.cpu_median = cpu;
      f.real_median = real;
    }
  }

  switch_figures& figures_for(const std::string& name, std::int64_t family_index) {
    for (switch_figures& f : figures_)
      if (f.name == name) return f;
    // Keep registration order even when --benchmark_enable_random_interleaving shuffles runs.
    switch_figures added;
    added.name = name;
    added.family_index = family_index;
    const auto at = std::find_if(figures_.begin(), figures_.end(), [&](const switch_figures& f) {
      return f.family_index > family_index;
    });
    return *figures_.insert(at, std::move(added));
  }

  std::optional<double> median_of(std::string_view name) const {
    for (const switch_figures& f : figures_)
      if (f.name == name && f.measured()) return f.cpu();
    return std::nullopt;
  }

  void print() const {
    if (figures_.empty()) return;
    const std::optional<double> reference = median_of(spec_.reference);
    char line[256];
    out_ << '\n' << spec_.title << ": ns per one-way switch, median over repetitions\n";
    std::snprintf(line, sizeof line, "  %-38s %5s %9s %9s   cpu / %s\n", "benchmark", "reps", "cpu",
                  "real", spec_.reference.c_str());
    out_ << line;
    for (const switch_figures& f : figures_) {
      char ratio[32] = "-";
      if (reference) std::snprintf(ratio, sizeof ratio, "%.3f", f.cpu() / *reference);
      std::snprintf(line, sizeof line, "  %-38s %5lld %9.3f %9.3f   %s\n", f.name.c_str(),
                    static_cast<long long>(f.repetitions), f.cpu(), f.real(), ratio);
      out_ << line;
    }
    for (const std::string& note : spec_.notes) out_ << note << '\n';
    for (const ratio_line& r : spec_.ratios) {
      const std::optional<double> num = median_of(r.numerator);
      const std::optional<double> den = median_of(r.denominator);
      if (!num || !den) {
        out_ << r.numerator << " / " << r.denominator << ": not both measured in this run\n";
        continue;
      }
      const double ratio = *num / *den;  // CPU time
      if (r.target) {
        std::snprintf(line, sizeof line, "%s / %s = %.3f (cpu time; target <= %.2f: %s)\n",
                      r.numerator.c_str(), r.denominator.c_str(), ratio, *r.target,
                      ratio <= *r.target ? "met" : "NOT met");
      } else {
        std::snprintf(line, sizeof line, "%s / %s = %.3f (cpu time)\n", r.numerator.c_str(),
                      r.denominator.c_str(), ratio);
      }
      out_ << line;
    }
    out_.flush();
  }

  const summary_spec& spec_;
  std::ostream& out_;
  std::vector<switch_figures> figures_;
};

}  // namespace detail

// main() of these benchmarks: runs what register_all registered, then the summary.
inline int run_switch_benchmarks(int argc, char** argv, void (*register_all)(), const summary_spec& spec) {
  return run_benchmarks_with_summary<detail::with_summary>(argc, argv, register_all, spec);
}

}  // namespace cospace::bench
