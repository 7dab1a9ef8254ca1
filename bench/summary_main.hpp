// The main() shared by the benchmarks that print a summary after Google
// Benchmark's own report (switch_bench.hpp, op_bench.hpp): WithSummary<R> is
// a reporter R that also collects figures and prints the summary at the end.
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

namespace cospace::bench {

// The display format the command line asks for (Initialize consumes the flag,
// so it is read before).
inline std::string requested_format(int argc, char** argv) {
  constexpr std::string_view flag = "--benchmark_format=";
  std::string format = "console";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.substr(0, flag.size()) == flag) format = arg.substr(flag.size());
  }
  return format;
}

// Runs what register_all registered, then the summary (console: on stdout
// after the table; json: on stderr, so stdout stays one JSON document).
template <template <class> class WithSummary, class Spec>
int run_benchmarks_with_summary(int argc, char** argv, void (*register_all)(), const Spec& spec) {
  const std::string format = requested_format(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  register_all();
  if (format == "console") {
    using console = benchmark::ConsoleReporter;
    const auto options = static_cast<console::OutputOptions>(
        console::OO_Tabular | (isatty(STDOUT_FILENO) ? console::OO_Color : console::OO_None));
    WithSummary<console> reporter(spec, std::cout, options);
    benchmark::RunSpecifiedBenchmarks(&reporter);
  } else if (format == "json") {
    WithSummary<benchmark::JSONReporter> reporter(spec, std::cerr);
    benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    std::fputs("note: the summary is printed only with --benchmark_format=console or json\n", stderr);
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}

}  // namespace cospace::bench
