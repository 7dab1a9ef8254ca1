// The cospace command: `cospace demo`, `cospace bench`, `cospace plot`.
// Options are parsed with CLI11; every mistake on the command line is one
// line on stderr and exit code 2, a failure at run time exit code 1.
#include <CLI/CLI.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "demo/demo.hpp"
#include "demo/depth_mix.hpp"

#include "bench/bench_command.hpp"

namespace {

using namespace cospace::tool;

constexpr int usage_error = 2;
constexpr int runtime_error = 1;

constexpr const char* mix_help =
    "Depth mixes (--depth-mix): a preset or a list of [WEIGHT:]RANGE, comma-separated.\n"
    "  WEIGHT  N fibers, or P% of them; the one component without a weight takes the rest\n"
    "  RANGE   SIZE (exactly), LO-HI (log-uniform: each doubling equally likely), LO..HI (uniform)\n"
    "  SIZE    bytes, with an optional K, M or G suffix (powers of 1024); at most 512M\n"
    "  heavy   = 4:256M,1%:4K-1M,128-1K  most under 1 KiB, 1% at 4 KiB-1 MiB, 4 at 256 MiB (default)\n"
    "  uniform = 128..16K\n"
    "  shallow = 128-1K\n";

// CLI11 messages may span lines; ours are one.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// An output file must be writable before any work starts. Probes by opening
// for append (never truncating) and removes a file the probe created.
std::string writable_file(std::string& path) {
  struct stat st {};
  const bool existed = stat(path.c_str(), &st) == 0;
  if (existed && S_ISDIR(st.st_mode)) return "cannot write '" + path + "': it is a directory";
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) return "cannot write '" + path + "': " + std::strerror(errno);
  std::fclose(f);
  if (!existed) std::remove(path.c_str());
  return {};
}

// A whole number of at least `least`, with a message that says so.
CLI::Validator whole_number(std::uint64_t least, std::uint64_t most) {
  return CLI::Validator(
      [least, most](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || text.size() > 19 || std::stoull(text) < least || std::stoull(text) > most) {
          return "'" + text + "' is not a whole number from " + std::to_string(least) + " to " + std::to_string(most);
        }
        return {};
      },
      "", "whole number");
}

std::string valid_mix(std::string& text) {
  try {
    (void)parse_depth_mix(text);
    return {};
  } catch (const depth_mix_error& e) {
    return e.what();
  }
}

template <class Run>
int guarded(Run run) {
  try {
    return run();
  } catch (const depth_mix_error& e) {
    std::fprintf(stderr, "cospace: --depth-mix: %s\n", e.what());
    return usage_error;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cospace: %s\n", one_line(e.what()).c_str());
    return runtime_error;
  }
}


}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cospace: fibers for C and C++ on Linux whose stacks never need a size.", "cospace"};
  app.require_subcommand(1, 1);
  app.footer("Run 'cospace COMMAND --help' for a command's options.");

  demo_request demo;
  std::string stack = "region";
  bool no_alternatives = false;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo",
      "A million fibers, no stack size anywhere, each suspended at a depth drawn from a heavy-tailed mix; then "
      "the same workload on fixed 64 KiB stacks and on Boost.Context, side by side.");
  demo_cmd->add_option("--fibers", demo.fibers, "How many fibers run at once (default 1000000).")
      ->type_name("N")
      ->check(whole_number(1, 0xffffffff));
  demo_cmd->add_option("--depth-mix", demo.depth_mix,
                       "How deep each fiber's stack goes before it suspends: heavy (default), uniform, shallow, "
                       "or a spec (below).")
      ->type_name("MIX")
      ->check(CLI::Validator(valid_mix, "", "depth mix"));
  demo_cmd->add_option("--stack", stack,
                       "The stacks of the main run: region (default: grows on demand), fixed (64 KiB + guard "
                       "page; fibers that would overflow are counted, not run), sliced (shared stacks).")
      ->type_name("KIND")
      ->check(CLI::IsMember({"region", "fixed", "sliced"}));
  demo_cmd->add_option("--seed", demo.seed, "Seed of the depth draw (default 1): the same seed, the same depths.")
      ->type_name("N")
      ->check(whole_number(0, ~std::uint64_t{0} / 10));
  demo_cmd->add_option("--yields", demo.yields, "Yields of each fiber while at depth (default 4).")
      ->type_name("N")
      ->check(whole_number(1, 1000));
  demo_cmd->add_option("--threads", demo.threads,
                       "Threads sharing the fibers, each running its share in every phase (default: one per core, "
                       "at most 8; always 1 on the sjlj backend).")
      ->type_name("N")
      ->check(whole_number(1, 64));
  demo_cmd->add_flag("--no-alternatives", no_alternatives,
                     "Run cospace only: skip fixed 64 KiB stacks and Boost.Context.");
  demo_cmd->add_flag("--backends", demo.backends,
                     "Afterwards, time the bare context switch of each backend (asm, sjlj, ucontext).");
  demo_cmd->footer(mix_help);

  bench_request bench;
  plot_request plot;
  CLI::App* bench_cmd = app.add_subcommand(
      "bench",
      "The benchmark suite (switch, create/destroy, memory per fiber, sliced switch against depth) next to the "
      "alternatives found on this machine, as ratios measured in the same run.");
  bench_cmd->add_flag("--quick", bench.quick, "Fewer repetitions: answers in under 20 seconds.");
  bench_cmd->add_flag("--json", bench.json, "Print one JSON document instead of tables.");

  CLI::App* plot_cmd = app.add_subcommand(
      "plot", "Chart resident memory against fiber count for each stack kind and alternative, as SVG.");
  plot_cmd->add_option("--svg", plot.svg_path, "Where to write the chart.")
      ->type_name("FILE")
      ->required()
      ->check(CLI::Validator(writable_file, "", "writable file"));
  plot_cmd->add_flag("--quick", plot.quick, "Fewer points: answers in under 20 seconds.");

  // CLI11 would call a stray word a missing subcommand: name it instead.
  const std::string first = argc > 1 ? argv[1] : "";
  if (!first.empty() && first[0] != '-' && first != "demo" && first != "bench" && first != "plot") {
    std::fprintf(stderr, "cospace: unknown command '%s' (try 'cospace --help')\n", argv[1]);
    return usage_error;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "cospace: %s (try 'cospace --help')\n", one_line(e.what()).c_str());
    return usage_error;
  }

  if (*demo_cmd) {
    demo.alternatives = !no_alternatives;
    demo.stack = stack == "fixed"    ? cospace::stack_kind::fixed
                 : stack == "sliced" ? cospace::stack_kind::sliced
                                     : cospace::stack_kind::region;
    return guarded([&] { return run_demo(demo); });
  }
  if (*bench_cmd) return guarded([&] { return run_bench(bench); });
  if (*plot_cmd) return guarded([&] { return run_plot(plot); });
  return usage_error;
}
