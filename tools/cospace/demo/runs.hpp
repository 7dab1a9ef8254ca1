// One run of the demo's workload on one kind of stack: start every fiber
// (each recurses to its depth and yields), resume them all round-robin while
// they yield at depth, then let them finish. Measures what the table prints.
#pragma once

#include <cospace/fiber.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cospace::tool {

struct run_plan {
  const std::vector<std::uint32_t>* depths = nullptr;  // per fiber, bytes
  std::vector<std::uint32_t> order;                    // the fibers to run, in start order
  unsigned yields = 4;
  unsigned threads = 1;          // threads sharing the fibers
  std::uint64_t sequential = 0;  // the first fibers of `order` start alone, one by one
};

struct run_result {
  std::uint64_t fibers = 0;
  unsigned threads = 1;
  std::uint64_t resident_peak = 0;  // above the process's resident memory before the run
  std::uint64_t rss_peak = 0;       // the VmRSS part of it
  std::uint64_t pte_peak = 0;       // the VmPTE part of it
  std::uint64_t mappings_peak = 0;  // VMAs of the whole process at the peak
  double switches_per_second = 0;   // one-way switches, while every fiber yields at depth
  double seconds = 0;               // the whole run: start to the last fiber destroyed
  std::optional<std::uint64_t> growth_events;     // region stacks: from the space's stats
  std::optional<std::uint64_t> overflows_caught;  // region stacks: from the space's stats
};

// Bytes between a suspended fiber's stack top and its stack pointer when it
// yields at depth 0 on a stack of `kind` (the fiber record, the entry frames,
// one recursion frame and the yield path), and the usable size of that stack.
struct stack_overhead {
  std::uint64_t at_depth_zero = 0;
  std::uint64_t usable = 0;
};
stack_overhead measure_overhead(stack_kind kind);

run_result run_cospace(stack_kind kind, const run_plan& plan);

// Boost.Context's boost::context::fiber on fixedsize_stack(stack_bytes)
// (malloc'd, no guard); only when the tool was built with Boost.Context.
bool have_boost_context();
run_result run_boost_context(std::uint64_t stack_bytes, const run_plan& plan);

// Two raw contexts ping-ponging on each context-switch backend (asm, sjlj,
// ucontext): one line each with switches per second.
void print_switch_backends(std::uint64_t round_trips);

}  // namespace cospace::tool
