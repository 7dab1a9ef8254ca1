// What the space and fiber benchmarks share: per-operation accounting and a
// reporter that ends the run with a summary of medians, ratios and targets.
//
// An iteration is whatever the benchmark says it is: report_ops(state, k)
// declares that one iteration performs k operations (an acquire + release
// pair, a create + run + destroy, one resume, two one-way switches of a
// ping-pong: switch_bench.hpp), and every figure in the summary is per
// operation.
//
// Time is the thread's CPU time (Google Benchmark's default), not real time:
// on a small shared VM other processes take the CPU away for milliseconds at a
// time, which real time counts and thread CPU time does not. The summary shows
// both; ratios and targets use CPU time. System calls made by the benchmark
// thread are CPU time of that thread, so they are counted.
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

inline constexpr const char* ops_counter = "ops_per_iter";

// Call after the timed loop: one iteration performed `ops_per_iteration`
// operations. items_per_second becomes operations per second, the counter
// `per_counter` the CPU time of one operation (printed as e.g. "25ns").
inline void report_ops(benchmark::State& state, double ops_per_iteration = 1, const char* per_counter = "per_op") {
  const double ops = static_cast<double>(state.iterations()) * ops_per_iteration;
  state.SetItemsProcessed(static_cast<std::int64_t>(ops));
  state.counters[ops_counter] = benchmark::Counter(ops_per_iteration);
  state.counters[per_counter] = benchmark::Counter(
      ops, static_cast<benchmark::Counter::Flags>(benchmark::Counter::kIsRate | benchmark::Counter::kInvert));
}

// report_ops(state) with one operation per iteration, as a plain function
// for the helpers that take a reporter (ping_pong.hpp).
inline void report_one_op(benchmark::State& state) { report_ops(state); }

// A line of the summary: numerator / denominator (CPU ns per operation), or,
// with an empty denominator, the numerator's ns per operation itself. With a
// target the line says whether it is met (at most the target).
struct summary_line {
  std::string label;        // printed first; may be empty
  std::string numerator;    // benchmark names as the summary table shows them
  std::string denominator;  // empty: an absolute figure in ns
  std::optional<double> target;
  std::string target_note;  // e.g. "the target"; printed after met / NOT met
};

// Rows whose name starts with `prefix` also show their ratio to `reference`
// (the first matching prefix wins).
struct group_reference {
  std::string prefix;
  std::string reference;
};

struct op_summary_spec {
  std::string title;
  std::string unit = "operation";  // what one operation is, for the summary's heading
  std::vector<group_reference> references;
  std::vector<summary_line> lines;
  std::vector<std::string> notes;
};

namespace detail {

inline double median_of_samples(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  return n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

struct op_figures {
  std::string name;
  std::int64_t family_index = 0;
  std::int64_t instance_index = 0;
  std::vector<double> cpu_samples;
  std::vector<double> real_samples;
  std::optional<double> cpu_median;
  std::optional<double> real_median;
  std::int64_t repetitions = 1;

  bool measured() const { return cpu_median.has_value() || !cpu_samples.empty(); }
  double cpu() const { return cpu_median ? *cpu_median : median_of_samples(cpu_samples); }
  double real() const { return real_median ? *real_median : median_of_samples(real_samples); }
  // Spread of the repetitions: (max - min) / median, CPU time.
  double spread() const {
    if (cpu_samples.size() < 2) return 0;
    const auto [lo, hi] = std::minmax_element(cpu_samples.begin(), cpu_samples.end());
    return (*hi - *lo) / cpu();
  }
};

// "family/args" without the repetition or thread decorations.
inline std::string display_name(const benchmark::BenchmarkReporter::Run& run) {
  std::string name = run.run_name.function_name;
  if (!run.run_name.args.empty()) name += "/" + run.run_name.args;
  return name;
}

template <class Reporter>
class with_op_summary final : public Reporter {
 public:
  using Run = benchmark::BenchmarkReporter::Run;

  template <class... Args>
  with_op_summary(const op_summary_spec& spec, std::ostream& summary_out, Args&&... args)
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
    if (run.error_occurred) return;
    const auto ops = run.counters.find(ops_counter);
    if (ops == run.counters.end() || ops->second.value <= 0) return;
    const bool sample = run.run_type == Run::RT_Iteration;
    const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
    if (!sample && !median) return;
    op_figures& f = figures_for(display_name(run), run.family_index, run.per_family_instance_index);
    f.repetitions = std::max<std::int64_t>(f.repetitions, run.repetitions);
    const double scale = 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit) / ops->second.value;
    const double cpu = run.GetAdjustedCPUTime() * scale;
    const double real = run.GetAdjustedRealTime() * scale;
    if (sample) {
      f.cpu_samples.push_back(cpu);
      f.real_samples.push_back(real);
    } else {
      f.cpu_median = cpu;
      f.real_median = real;
    }
  }

  op_figures& figures_for(const std::string& name, std::int64_t family, std::int64_t instance) {
    for (op_figures& f : figures_)
      if (f.name == name) return f;
    // Registration order, even when --benchmark_enable_random_interleaving shuffles runs.
    op_figures added;
    added.name = name;
    added.family_index = family;
    added.instance_index = instance;
    const auto at = std::find_if(figures_.begin(), figures_.end(), [&](const op_figures& f) {
      return f.family_index > family || (f.family_index == family && f.instance_index > instance);
    });
    return *figures_.insert(at, std::move(added));
  }

  std::optional<double> median_of(std::string_view name) const {
    for (const op_figures& f : figures_)
      if (f.name == name && f.measured()) return f.cpu();
    return std::nullopt;
  }

  const group_reference* reference_for(const std::string& name) const {
    for (const group_reference& g : spec_.references)
      if (name.compare(0, g.prefix.size(), g.prefix) == 0) return &g;
    return nullptr;
  }

  void print() const {
    if (figures_.empty()) return;
    char line[512];
    out_ << '\n' << spec_.title << ": ns per " << spec_.unit << ", median over repetitions (spread: (max - min) / median)\n";
    std::snprintf(line, sizeof line, "  %-56s %5s %11s %11s %7s   %s\n", "benchmark", "reps", "cpu", "real",
                  "spread", spec_.references.empty() ? "" : "cpu / reference");
    out_ << line;
    for (const op_figures& f : figures_) {
      char ratio[160] = "";
      if (const group_reference* g = reference_for(f.name)) {
        if (const std::optional<double> ref = median_of(g->reference))
          std::snprintf(ratio, sizeof ratio, "%.3f (%s)", f.cpu() / *ref, g->reference.c_str());
      }
      std::snprintf(line, sizeof line, "  %-56s %5lld %11.2f %11.2f %6.0f%%   %s\n", f.name.c_str(),
                    static_cast<long long>(f.repetitions), f.cpu(), f.real(), 100 * f.spread(), ratio);
      out_ << line;
    }
    for (const std::string& note : spec_.notes) out_ << note << '\n';
    for (const summary_line& l : spec_.lines) print_line(l);
    out_.flush();
  }

  void print_line(const summary_line& l) const {
    const std::string label = l.label.empty() ? "" : l.label + ": ";
    const std::optional<double> num = median_of(l.numerator);
    std::optional<double> den;
    if (!l.denominator.empty()) den = median_of(l.denominator);
    if (!num || (!l.denominator.empty() && !den)) {
      out_ << label << l.numerator << (l.denominator.empty() ? "" : " / " + l.denominator)
           << ": not measured in this run\n";
      return;
    }
    char text[512];
    if (l.denominator.empty()) {
      std::snprintf(text, sizeof text, "%s%s = %.2f ns (cpu time", label.c_str(), l.numerator.c_str(), *num);
    } else {
      std::snprintf(text, sizeof text, "%s%s / %s = %.3f (cpu time", label.c_str(), l.numerator.c_str(),
                    l.denominator.c_str(), *num / *den);
    }
    out_ << text;
    if (l.target) {
      const double value = l.denominator.empty() ? *num : *num / *den;
      std::snprintf(text, sizeof text, "; target <= %g%s: %s", *l.target, l.denominator.empty() ? " ns" : "",
                    value <= *l.target ? "met" : "NOT met");
      out_ << text;
      if (!l.target_note.empty()) out_ << ", " << l.target_note;
    }
    out_ << ")\n";
  }

  const op_summary_spec& spec_;
  std::ostream& out_;
  std::vector<op_figures> figures_;
};

}  // namespace detail

// main() of these benchmarks: runs what register_all registered, then the summary.
inline int run_op_benchmarks(int argc, char** argv, void (*register_all)(), const op_summary_spec& spec) {
  return run_benchmarks_with_summary<detail::with_op_summary>(argc, argv, register_all, spec);
}

}  // namespace cospace::bench
