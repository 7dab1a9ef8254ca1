// The cospace command. For now it has one job: `cospace demo` ping-pongs two
// contexts on every context-switch backend and prints switches per second.
#include <cospace/context.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "bench/bench_command.hpp"
#include "pingpong.hpp"

namespace {

constexpr const char* usage =
    "usage: cospace demo [--round-trips N]\n"
    "\n"
    "  demo    two contexts ping-pong on each context-switch backend (asm, sjlj,\n"
    "          ucontext); prints one-way switches per second for each.\n"
    "  --round-trips N   round trips per backend (default 5000000)\n";

int demo(std::uint64_t round_trips) {
  using namespace cospace;
  std::printf("cospace demo: two contexts ping-ponging, %llu round trips per backend\n",
              static_cast<unsigned long long>(round_trips));
  std::printf("library backend: %s\n\n", cospace_context_backend());
  std::printf("%-10s %16s %14s\n", "backend", "switches/s", "ns/switch");
  for (const context::backend* b :
       {&context::asm_backend, &context::sjlj_backend, &context::ucontext_backend}) {
    // ucontext makes a system call per switch: give it fewer rounds.
    const std::uint64_t rounds = b == &context::ucontext_backend ? round_trips / 20 : round_trips;
    const tools::pingpong_result r = tools::pingpong(*b, rounds);
    const double per_second = static_cast<double>(r.switches) / r.seconds;
    std::printf("%-10s %16.0f %14.2f\n", b->name, per_second, 1e9 / per_second);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "bench" || command == "plot") {  // TEMP wiring until the CLI11 rewrite
    cospace::tool::bench_request b;
    cospace::tool::plot_request p;
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--quick") b.quick = p.quick = true;
      else if (arg == "--json" && command == "bench") b.json = true;
      else if (arg == "--svg" && command == "plot" && i + 1 < argc) p.svg_path = argv[++i];
      else {
        std::fprintf(stderr, "cospace: unknown option '%s'\n", argv[i]);
        return 2;
      }
    }
    if (command == "plot" && p.svg_path.empty()) {
      std::fprintf(stderr, "cospace: plot needs --svg FILE\n");
      return 2;
    }
    return command == "bench" ? cospace::tool::run_bench(b) : cospace::tool::run_plot(p);
  }
  if (command != "demo") {
    std::fprintf(stderr, "cospace: unknown command '%s' (try 'cospace --help')\n", argv[1]);
    return 2;
  }
  std::uint64_t round_trips = 5'000'000;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--round-trips") == 0 && i + 1 < argc) {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || n == 0) {
        std::fprintf(stderr, "cospace: --round-trips needs a positive number, got '%s'\n", argv[i]);
        return 2;
      }
      round_trips = n;
    } else {
      std::fprintf(stderr, "cospace: unknown option '%s' (try 'cospace --help')\n", argv[i]);
      return 2;
    }
  }
  try {
    return demo(round_trips);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cospace: %s\n", e.what());
    return 1;
  }
}
