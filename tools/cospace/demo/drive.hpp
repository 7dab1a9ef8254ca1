// The round-robin every run of the demo shares, whatever the fibers are:
//
//   start   each fiber in turn is made and resumed: it recurses to its depth
//           and yields (so a deep fiber holds its depth before the next starts)
//   rounds  yields - 1 rounds resume every fiber once: each returns from one
//           yield at depth and yields again (only switching: timed)
//   finish  each fiber is resumed a last time, unwinds, returns, is destroyed
//
// Resident memory and mappings are sampled when every fiber sits at depth.
// With several threads, each runs its share of the fibers in every phase.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>
#include <algorithm>

#include "machine.hpp"
#include "progress.hpp"
#include "runs.hpp"

namespace cospace::tool {

// Runs `body(k)` for every k of every slice: slice 0 on the calling thread,
// the others on threads of their own; returns when all are done.
template <class Body>
void for_each_slice(const std::vector<std::vector<std::uint64_t>>& slices, Body body) {
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < slices.size(); ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t k : slices[t]) body(k);
    });
  }
  for (std::uint64_t k : slices[0]) body(k);
  for (std::thread& thread : threads) thread.join();
}

template <class Fibers>
run_result drive(const run_plan& plan, Fibers& fibers) {
  using clock = std::chrono::steady_clock;
  const std::uint64_t n = plan.order.size();
  const resident before = read_resident();
  run_result result;
  result.fibers = n;
  result.threads = std::max(1u, plan.threads);
  auto sample = [&] {
    const resident now = read_resident();
    const std::uint64_t rss = now.rss > before.rss ? now.rss - before.rss : 0;
    const std::uint64_t pte = now.pte > before.pte ? now.pte - before.pte : 0;
    if (rss + pte > result.resident_peak) {
      result.resident_peak = rss + pte;
      result.rss_peak = rss;
      result.pte_peak = pte;
    }
    const std::uint64_t mappings = count_mappings();
    if (mappings > result.mappings_peak) result.mappings_peak = mappings;
  };

  // Each thread keeps its own fibers from start to finish. The first
  // `sequential` fibers start alone, before any other (they go deep while
  // the free spans are large), on the calling thread.
  const std::uint64_t sequential = std::min<std::uint64_t>(plan.sequential, n);
  std::vector<std::vector<std::uint64_t>> slices(result.threads);
  for (std::uint64_t k = 0; k < n; ++k) slices[k < sequential ? 0 : k % result.threads].push_back(k);

  const auto start = clock::now();
  {
    progress bar("start, recurse, yield", n);
    for (std::uint64_t k = 0; k < sequential; ++k) {
      fibers.start(k, (*plan.depths)[plan.order[k]]);
      bar.step();
    }
    for_each_slice(slices, [&](std::uint64_t k) {
      if (k < sequential) return;
      fibers.start(k, (*plan.depths)[plan.order[k]]);
      bar.step();
    });
    bar.finish();
  }
  sample();
  double switching = 0;
  for (unsigned round = 2; round <= plan.yields; ++round) {
    progress bar("yield at depth, round " + std::to_string(round) + "/" + std::to_string(plan.yields), n);
    const auto round_start = clock::now();
    for_each_slice(slices, [&](std::uint64_t k) {
      fibers.resume(k);
      bar.step();
    });
    switching += std::chrono::duration<double>(clock::now() - round_start).count();
    bar.finish();
    sample();
  }
  {
    progress bar("unwind and finish", n);
    for_each_slice(slices, [&](std::uint64_t k) {
      fibers.finish(k);
      bar.step();
    });
    bar.finish();
  }
  result.seconds = std::chrono::duration<double>(clock::now() - start).count();
  // Without middle rounds, the rate is taken over the whole run (creation included).
  const double timed = switching > 0 ? switching : result.seconds;
  const double switches = 2.0 * static_cast<double>(n) * (switching > 0 ? plan.yields - 1 : plan.yields + 1);
  result.switches_per_second = timed > 0 ? switches / timed : 0;
  return result;
}

}  // namespace cospace::tool
