// The benchmark loops shared by every fiber handle with Boost.Context's
// `fiber` shape (`f = std::move(f).resume()`): cospace::fiber_context and
// boost::context::fiber itself. `make(entry)` makes a handle whose body is
// `entry(fiber&& caller)`, so each library is called the way its users call it.
#pragma once

#include <benchmark/benchmark.h>

#include <utility>

#include "op_bench.hpp"

namespace cospace::bench {

// One iteration: a round trip into a body that resumes its caller forever,
// accounted by `report` (one operation by default; report_switches counts two).
template <class Fiber, class Make, class Report = void (*)(benchmark::State&)>
void resume_round_trips(benchmark::State& state, Make&& make, Report report = &report_one_op) {
  Fiber f = make([](Fiber&& caller) {
    for (;;) caller = std::move(caller).resume();
    return std::move(caller);
  });
  f = std::move(f).resume();
  for (auto _ : state) f = std::move(f).resume();
  report(state);
}  // f is destroyed suspended: unwound

// The same round trip through resume_with (a function run on top of the body).
template <class Fiber, class Make>
void resume_with_round_trips(benchmark::State& state, Make&& make) {
  Fiber f = make([](Fiber&& caller) {
    for (;;) caller = std::move(caller).resume();
    return std::move(caller);
  });
  f = std::move(f).resume();
  for (auto _ : state) f = std::move(f).resume_with([](Fiber&& c) { return std::move(c); });
  report_ops(state);
}

// One operation: a handle made, resumed into a body that returns at once, released.
template <class Fiber, class Make>
void create_run_end(benchmark::State& state, Make&& make) {
  for (auto _ : state) {
    Fiber f = make([](Fiber&& caller) { return std::move(caller); });
    f = std::move(f).resume();
    benchmark::DoNotOptimize(f);
  }
  report_ops(state);
}

}  // namespace cospace::bench
