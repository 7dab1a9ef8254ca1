// `cospace demo --backends`: the context layer alone, per backend.
#include <cospace/context.h>

#include <cstdio>

#include "../pingpong.hpp"
#include "runs.hpp"

namespace cospace::tool {

void print_switch_backends(std::uint64_t round_trips) {
  std::printf("context switch alone: two contexts ping-ponging, %llu round trips per backend "
              "(the library uses %s)\n",
              static_cast<unsigned long long>(round_trips), cospace_context_backend());
  std::printf("%-10s %16s %14s\n", "backend", "switches/s", "ns/switch");
  for (const context::backend* b : {&context::asm_backend, &context::sjlj_backend, &context::ucontext_backend}) {
    // ucontext makes a system call per switch: give it fewer rounds.
    const std::uint64_t rounds = b == &context::ucontext_backend ? round_trips / 20 : round_trips;
    const tools::pingpong_result r = tools::pingpong(*b, rounds);
    const double per_second = static_cast<double>(r.switches) / r.seconds;
    std::printf("%-10s %16.0f %14.2f\n", b->name, per_second, 1e9 / per_second);
  }
}

}  // namespace cospace::tool
