// `cospace demo`: a million fibers, no stack size anywhere, each suspended at a
// depth drawn from a heavy-tailed mix; then the same workload on the
// alternatives this machine can run, side by side.
#pragma once

#include <cospace/fiber.hpp>

#include <cstdint>
#include <string>

namespace cospace::tool {

struct demo_request {
  std::uint64_t fibers = 1'000'000;
  std::string depth_mix = "heavy";
  stack_kind stack = stack_kind::region;
  std::uint64_t seed = 1;
  unsigned yields = 4;
  unsigned threads = 0;      // 0: one per core (1 on the sjlj backend)
  bool alternatives = true;  // the fixed-stack and Boost.Context runs (region only)
  bool backends = false;     // the context-switch ping-pong per backend
};

// Prints everything; returns the exit code (0, or 1 when the machine cannot
// hold the request or a run fails, with a one-line reason on stderr).
int run_demo(const demo_request& request);

}  // namespace cospace::tool
