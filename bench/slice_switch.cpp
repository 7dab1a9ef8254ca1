// Sliced switches (issue "Stack slicing"), in one Google Benchmark run next to
// the region switch:
//
//   sliced_switch/<depth>        two sliced fibers on ONE shared stack, resumed
//                                in turn, each holding `depth` bytes of live
//                                locals: every resume saves the other's slice
//                                and restores this one's. Time per one-way
//                                switch (a resume or a yield); counters: bytes
//                                copied per switch (saved + restored).
//   sliced_switch_alone/<depth>  one sliced fiber resumed by the same resumer:
//                                lazy saving copies nothing
//   region_switch/<depth>        two region fibers, same loop: the baseline
//   shared_stacks/<n>            one deep fiber (64 KiB) and 3 shallow ones
//                                (256 B), round-robin, on n shared stacks (fibers
//                                are spread over them in turn): what several
//                                stacks per thread save the shallow ones
//   primitives_switch/<depth>    the C primitives (cospace/slice.h): a tasklet
//                                and a scheduler on the thread's own stack
//
// The target: a switch at 1 KiB of live slice <= 60 ns (libaco
// publishes 211 ns at 1000 B).
#include <benchmark/benchmark.h>

#include <cospace/fiber.hpp>
#include <cospace/slice.h>
#include <cospace/slicing.hpp>

#include <cstddef>
#include <cstring>
#include <vector>

namespace {

using cospace::fiber;
using cospace::stack_kind;
namespace this_fiber = cospace::this_fiber;

// Keeps `depth` bytes of live locals on the stack and yields forever.
[[gnu::noinline]] void hold(std::size_t depth) {
  auto* bytes = static_cast<volatile char*>(__builtin_alloca(depth));
  bytes[0] = 1;
  bytes[depth - 1] = 1;
  for (;;) this_fiber::yield();
}

void bm_pair(benchmark::State& state, stack_kind kind) {
  const auto depth = static_cast<std::size_t>(state.range(0));
  cospace::configure_slicing({.shared_stacks = 1});
  fiber a([depth] { hold(depth); }, {.stack = kind});
  fiber b([depth] { hold(depth); }, {.stack = kind});
  a.resume();
  b.resume();
  const auto before = cospace::slicing_stats();
  for (auto _ : state) {
    a.resume();
    b.resume();
  }
  const auto after = cospace::slicing_stats();
  const double switches = 4.0 * static_cast<double>(state.iterations());  // 2 resumes + 2 yields
  state.SetItemsProcessed(static_cast<std::int64_t>(switches));
  state.counters["ns/switch"] = benchmark::Counter(switches, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["copied_B/switch"] =
      static_cast<double>((after.bytes_saved - before.bytes_saved) + (after.bytes_restored - before.bytes_restored)) /
      switches;
  cospace::configure_slicing({});
}

void bm_alone(benchmark::State& state) {
  const auto depth = static_cast<std::size_t>(state.range(0));
  fiber a([depth] { hold(depth); }, {.stack = stack_kind::sliced});
  a.resume();
  for (auto _ : state) a.resume();
  const double switches = 2.0 * static_cast<double>(state.iterations());
  state.counters["ns/switch"] = benchmark::Counter(switches, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void bm_shared_stacks(benchmark::State& state) {
  cospace::configure_slicing({.shared_stacks = static_cast<std::size_t>(state.range(0))});
  std::vector<fiber> fibers;
  fibers.emplace_back([] { hold(64 * 1024); }, cospace::fiber_options{.stack = stack_kind::sliced});
  for (int i = 0; i < 3; ++i)
    fibers.emplace_back([] { hold(256); }, cospace::fiber_options{.stack = stack_kind::sliced});
  for (fiber& f : fibers) f.resume();
  const auto before = cospace::slicing_stats();
  for (auto _ : state)
    for (fiber& f : fibers) f.resume();
  const auto after = cospace::slicing_stats();
  const double switches = 2.0 * static_cast<double>(fibers.size()) * static_cast<double>(state.iterations());
  state.counters["ns/switch"] = benchmark::Counter(switches, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["copied_B/switch"] =
      static_cast<double>((after.bytes_saved - before.bytes_saved) + (after.bytes_restored - before.bytes_restored)) /
      switches;
  fibers.clear();
  cospace::configure_slicing({});
}

// ---- the C primitives: a scheduler and one tasklet -------------------------------

struct ping {
  cospace_slice* scheduler = nullptr;
  std::size_t depth = 0;
};

[[gnu::noinline]] void tasklet_hold(cospace_slice* self, ping* p) {
  auto* bytes = static_cast<volatile char*>(__builtin_alloca(p->depth));
  bytes[0] = 1;
  for (;;) cospace_slice_switch(self, p->scheduler);
}

[[gnu::noinline]] void run_primitives(benchmark::State& state, void* top) {
  ping p;
  p.depth = static_cast<std::size_t>(state.range(0));
  if (cospace_slice_attach(&p.scheduler, top) != COSPACE_OK) {
    state.SkipWithError(cospace_last_error_message());
    return;
  }
  cospace_slice* t = nullptr;
  void* base = static_cast<char*>(cospace_stack_position()) - 8192;
  if (cospace_slice_create(&t, base, [](cospace_slice* self, void* arg) { tasklet_hold(self, static_cast<ping*>(arg)); },
                           &p) != COSPACE_OK) {
    state.SkipWithError(cospace_last_error_message());
    cospace_slice_destroy(p.scheduler);
    return;
  }
  for (auto _ : state) cospace_slice_switch(p.scheduler, t);
  const double switches = 2.0 * static_cast<double>(state.iterations());
  state.counters["ns/switch"] = benchmark::Counter(switches, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["held_B"] = static_cast<double>(cospace_slice_saved_bytes(t));
  cospace_slice_destroy(t);
  cospace_slice_destroy(p.scheduler);
}

void bm_primitives(benchmark::State& state) { run_primitives(state, cospace_stack_position()); }

void depths(benchmark::internal::Benchmark* b) {
  for (std::int64_t d = 64; d <= 64 * 1024; d *= 4) b->Arg(d);
  b->Arg(1024 - 64);  // about 1 KiB of live slice once the frames are counted
}

BENCHMARK_CAPTURE(bm_pair, sliced_switch, stack_kind::sliced)->Name("sliced_switch")->Apply(depths);
BENCHMARK(bm_alone)->Name("sliced_switch_alone")->Apply(depths);
BENCHMARK_CAPTURE(bm_pair, region_switch, stack_kind::region)->Name("region_switch")->Apply(depths);
BENCHMARK(bm_shared_stacks)->Name("shared_stacks")->Arg(1)->Arg(2)->Arg(4);
BENCHMARK(bm_primitives)->Name("primitives_switch")->Apply(depths);

}  // namespace

BENCHMARK_MAIN();
