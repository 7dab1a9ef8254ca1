// Benchmarks of the space (issue "Recursive process spaces"): what a guarded
// region costs to get and give back, whether that cost depends on how many
// regions are live, and what cache colouring of the stack tops buys.
//
//   acquire_release/...   one acquire_stack + release_stack of a guarded region
//                         (space_impl, the layer under cospace::fiber), and
//                         Boost.Context's stack allocators' allocate + deallocate:
//     cospace_warm              a space with default parking: the region comes
//                               back from the parked list, no system call
//     cospace_cold              parked_regions = 0: every acquire installs a guard
//                               zone (madvise MADV_GUARD_INSTALL), every release
//                               removes it and gives the pages back (MADV_DONTNEED)
//     cospace_cold_touch        the same, writing one byte at the stack top in
//                               between (a page fault and a zeroed page, as a fiber does)
//     cospace_fixed_pool        cospace's fixed-size stacks (64 KiB, a pool of mappings)
//     boost_protected           protected_fixedsize_stack: mmap + mprotect + munmap
//     boost_protected_touch     ... writing one byte at the top in between
//     boost_pooled              pooled_fixedsize_stack (boost::pool)
//     boost_fixedsize           fixedsize_stack (malloc + free of 128 KiB)
//   placement/{warm,cold}/live:N   acquire + release with N regions already
//                         live in the space (N = 1 ... 1,000,000; built once per
//                         N and mode, outside the timing; 10^6 live regions take
//                         about 4 GiB of page tables: one page-table page each,
//                         for its guard zone)
//   colour/round_robin/fibers:F/colour:{1,0}   F suspended fibers (1,000: the
//                         issue's case; 100 and 10,000 for the trend) resumed
//                         round robin (each touches a few locals near its stack
//                         top and yields), in a space with colour_stacks on or
//                         off; per one-way switch (a resume + yield is two)
//   colour/round_robin_dense_space/fibers:F   the same fibers in a space reserving
//                         only F x 512 KiB (colour on): region stacks close together
//   colour/round_robin_fixed_stacks/fibers:F   the same fibers on stack_kind::fixed
//                         stacks (adjacent 64 KiB mappings), for reference: the
//                         same code with the stacks close together
//   page_chase/pages:1000/stride:S   diagnosis, no cospace code: a dependent load
//                         from one line of each of 1,000 pages S bytes apart
//                         (68 KiB: like fixed stacks; 32 GiB: like 1,000 region
//                         stacks in the default reservation; +4 KiB: the same
//                         with the page index bits varying); per load
//
// The summary ends with the targets (warm acquire + release <= 40 ns)
// and the ratios: cold / warm, each against Boost, placement at 10^6 / at 1,
// colour off / on.
//
// Usage (docs/benchmarks.md has the exact commands behind the published figures):
//   cospace_bench_space --benchmark_repetitions=5 --benchmark_filter='acquire|colour'
//   cospace_bench_space --benchmark_repetitions=5 --benchmark_filter=placement
#include <sys/mman.h>

#include <cospace/fiber.hpp>
#include <cospace/space.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fiber/fiber_stack.hpp"
#include "op_bench.hpp"
#include "space/space_impl.hpp"

#if COSPACE_BENCH_HAVE_BOOST
#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <boost/version.hpp>
#endif

namespace {

namespace cd = cospace::detail;
using cospace::bench::report_ops;

void touch_top(std::uintptr_t top) { *reinterpret_cast<volatile char*>(top - 64) = 1; }

// ---- acquire + release ---------------------------------------------------------

void bm_acquire_release(benchmark::State& state, std::size_t parked, bool touch) {
  cospace::space_options options;
  options.parked_regions = parked;
  cospace::space space(options);
  cd::space_impl& impl = space.impl();
  const cd::stack_request request;
  for (auto _ : state) {
    cd::region* r = impl.acquire_stack(request);
    if (touch) touch_top(r->top);
    benchmark::DoNotOptimize(r);
    impl.release_stack(r);
  }
  report_ops(state);
  if (impl.stats().mode != cospace::protection_mode::guard_install)
    state.SetLabel(std::string("mode ") + cospace::to_string(impl.stats().mode));
}

void bm_fixed_pool(benchmark::State& state) {
  for (auto _ : state) {
    cd::fiber_stack s = cd::acquire_fixed_stack(64 * 1024);
    benchmark::DoNotOptimize(s.top);
    cd::release_fixed_stack(s);
  }
  report_ops(state);
}

#if COSPACE_BENCH_HAVE_BOOST
template <class Alloc>
void bm_boost_stack(benchmark::State& state, bool touch) {
  Alloc alloc;  // pooled_fixedsize_stack: one pool for the whole run
  for (auto _ : state) {
    boost::context::stack_context sc = alloc.allocate();
    if (touch) touch_top(reinterpret_cast<std::uintptr_t>(sc.sp));
    benchmark::DoNotOptimize(sc.sp);
    alloc.deallocate(sc);
  }
  report_ops(state);
}
#endif

// ---- placement with N live regions -------------------------------------------

// One space with N live regions at a time, rebuilt only when N or the mode
// changes: the placement benchmarks are registered so that each (mode, N) runs
// all its repetitions before the next.
struct populated_space {
  std::unique_ptr<cospace::space> space;
  std::vector<cd::region*> live;
  std::size_t count = 0;
  std::size_t parked = 0;

  void clear() {
    if (!space) return;
    for (cd::region* r : live) space->impl().release_stack(r);
    live.clear();
    live.shrink_to_fit();
    space.reset();
  }
  ~populated_space() { clear(); }
};

populated_space g_populated;

cd::space_impl& populate(std::size_t count, std::size_t parked) {
  populated_space& p = g_populated;
  if (p.space && p.count == count && p.parked == parked) return p.space->impl();
  p.clear();
  cospace::space_options options;
  options.parked_regions = parked;
  p.space = std::make_unique<cospace::space>(options);
  p.count = count;
  p.parked = parked;
  p.live.reserve(count);
  const cd::stack_request request;
  for (std::size_t i = 0; i < count; ++i) p.live.push_back(p.space->impl().acquire_stack(request));
  return p.space->impl();
}

void bm_placement(benchmark::State& state, std::size_t parked) {
  const auto count = static_cast<std::size_t>(state.range(0));
  cd::space_impl& impl = populate(count, parked);
  const cd::stack_request request;
  for (auto _ : state) {
    cd::region* r = impl.acquire_stack(request);
    benchmark::DoNotOptimize(r);
    impl.release_stack(r);
  }
  report_ops(state);
  state.counters["live"] = static_cast<double>(impl.stats().live_regions);
}

// ---- cache colouring -----------------------------------------------------------


void colour_body() {
  // A few locals near the stack top, touched on every resume.
  volatile std::uint64_t locals[4] = {0, 0, 0, 0};
  for (;;) {
    for (auto& l : locals) l = l + 1;
    cospace::this_fiber::yield();
  }
}

void round_robin(benchmark::State& state, const cospace::fiber_options& fo) {
  const auto colour_fibers = static_cast<std::size_t>(state.range(0));
  std::vector<cospace::fiber> fibers;
  fibers.reserve(colour_fibers);
  for (std::size_t i = 0; i < colour_fibers; ++i) {
    fibers.emplace_back(&colour_body, fo);
    fibers.back().resume();
  }
  for (auto _ : state) {
    for (cospace::fiber& f : fibers) f.resume();
  }
  report_ops(state, 2.0 * static_cast<double>(colour_fibers));  // per one-way switch
  fibers.clear();  // unwinds every fiber
}

void bm_colour(benchmark::State& state) {
  cospace::space_options options;
  options.colour_stacks = state.range(1) != 0;
  cospace::space space(options);
  cospace::fiber_options fo;
  fo.space = &space;
  round_robin(state, fo);
}

// The same fibers in a space whose reservation is only 512 KiB per fiber, so
// that the stacks lie a few hundred KiB apart (several per page-table page)
// instead of reservation / N apart: the same code and the same region stacks,
// only denser.
void bm_round_robin_dense(benchmark::State& state) {
  cospace::space_options options;
  options.reservation = static_cast<std::size_t>(state.range(0)) * 512 * 1024;
  cospace::space space(options);
  cospace::fiber_options fo;
  fo.space = &space;
  round_robin(state, fo);
}

// The same fibers on stack_kind::fixed stacks: 64 KiB mappings side by side
// (a guard page between), where the region stacks above lie reservation / N
// apart. Same fiber code: the difference is where the stacks are.
void bm_round_robin_fixed(benchmark::State& state) {
  cospace::fiber_options fo;
  fo.stack = cospace::stack_kind::fixed;
  round_robin(state, fo);
}

// ---- diagnosis: page-level aliasing -----------------------------------------------

// A dependent load from one line in each of `pages` pages, `stride` bytes
// apart, round robin: the memory side of resuming fibers whose stack tops lie
// that far apart. With a stride that is a multiple of 1 MiB every page has the
// same virtual address bits 12-19 (what a set-associative TLB indexes with);
// a stride 4 KiB longer makes them differ. Region stack tops are the former:
// each lies just below a 64 KiB-aligned (in practice much more aligned)
// region top, and the colour only moves it within its page.
void bm_page_chase(benchmark::State& state) {
  const auto pages = static_cast<std::size_t>(state.range(0));
  const auto stride = static_cast<std::size_t>(state.range(1));
  const std::size_t span = pages * stride + (std::size_t{1} << 20);
  void* base = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    state.SkipWithError("mmap of the probe span failed");
    return;
  }
  (void)madvise(base, span, MADV_NOHUGEPAGE);
  auto line = [&](std::size_t i) {
    return reinterpret_cast<void**>(static_cast<char*>(base) + i * stride + 4096 - 64);
  };
  for (std::size_t i = 0; i < pages; ++i) *line(i) = line((i + 1) % pages);
  void** p = line(0);
  for (std::size_t i = 0; i < 4 * pages; ++i) p = static_cast<void**>(*p);
  for (auto _ : state) {
    for (std::size_t i = 0; i < pages; ++i) p = static_cast<void**>(*p);
  }
  benchmark::DoNotOptimize(p);
  report_ops(state, static_cast<double>(pages));
  munmap(base, span);
}

// ---- registration and summary -----------------------------------------------

constexpr const char* warm = "acquire_release/cospace_warm";
constexpr const char* cold = "acquire_release/cospace_cold";
constexpr const char* cold_touch = "acquire_release/cospace_cold_touch";
constexpr const char* boost_protected = "acquire_release/boost_protected";
constexpr const char* boost_protected_touch = "acquire_release/boost_protected_touch";
constexpr const char* boost_pooled = "acquire_release/boost_pooled";

const std::vector<long> placement_counts = {1, 1'000, 10'000, 100'000, 1'000'000};

void register_all() {
  auto add = [](const char* name, auto fn) {
    return benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kNanosecond);
  };
  add(warm, [](benchmark::State& s) { bm_acquire_release(s, 64, false); });
  add(cold, [](benchmark::State& s) { bm_acquire_release(s, 0, false); });
  add(cold_touch, [](benchmark::State& s) { bm_acquire_release(s, 0, true); });
  add("acquire_release/cospace_fixed_pool", &bm_fixed_pool);
#if COSPACE_BENCH_HAVE_BOOST
  namespace bc = boost::context;
  add(boost_protected, [](benchmark::State& s) { bm_boost_stack<bc::protected_fixedsize_stack>(s, false); });
  add(boost_protected_touch, [](benchmark::State& s) { bm_boost_stack<bc::protected_fixedsize_stack>(s, true); });
  add(boost_pooled, [](benchmark::State& s) { bm_boost_stack<bc::pooled_fixedsize_stack>(s, false); });
  add("acquire_release/boost_fixedsize", [](benchmark::State& s) { bm_boost_stack<bc::fixedsize_stack>(s, false); });
#endif
  for (const long n : placement_counts)
    add("placement/warm", [](benchmark::State& s) { bm_placement(s, 64); })->Arg(n)->ArgName("live");
  for (const long n : placement_counts)
    add("placement/cold", [](benchmark::State& s) { bm_placement(s, 0); })->Arg(n)->ArgName("live");
  // 1,000 fibers is the case; 100 and 10,000 show the trend.
  add("colour/round_robin", &bm_colour)
      ->ArgsProduct({{1000, 100, 10000}, {1, 0}})
      ->ArgNames({"fibers", "colour"});
  add("colour/round_robin_dense_space", &bm_round_robin_dense)->Arg(1000)->Arg(100)->Arg(10000)->ArgName("fibers");
  add("colour/round_robin_fixed_stacks", &bm_round_robin_fixed)->Arg(1000)->Arg(100)->Arg(10000)->ArgName("fibers");
  constexpr long kib = 1024, mib = 1024 * kib, gib = 1024 * mib;
  add("page_chase", &bm_page_chase)
      ->Args({1000, 68 * kib})
      ->Args({1000, mib})
      ->Args({1000, mib + 4 * kib})
      ->Args({1000, 32 * gib})
      ->Args({1000, 32 * gib + 4 * kib})
      ->ArgNames({"pages", "stride"});
}

}  // namespace

int main(int argc, char** argv) {
  using cospace::bench::summary_line;
  cospace::bench::op_summary_spec spec;
  spec.title = "Space summary";
  spec.references = {{"acquire_release/", warm},
                     {"placement/warm/", "placement/warm/live:1"},
                     {"placement/cold/", "placement/cold/live:1"},
                     {"colour/round_robin/fibers:1000/", "colour/round_robin/fibers:1000/colour:1"},
                     {"colour/round_robin/fibers:100/", "colour/round_robin/fibers:100/colour:1"},
                     {"colour/round_robin/fibers:10000/", "colour/round_robin/fibers:10000/colour:1"}};
  spec.notes.push_back("acquire_release/* and placement/*: one acquire + release; colour/*: one one-way switch "
                       "(a resume + yield of one of the fibers is two); page_chase/*: one dependent load");
#if COSPACE_BENCH_HAVE_BOOST
  spec.notes.push_back(std::string("Boost.Context ") + BOOST_LIB_VERSION + ", " + COSPACE_BENCH_BOOST_LINKAGE +
                       " library, default stack size");
#else
  std::fputs("note: built without Boost.Context: its stack allocators are not measured "
             "(on Debian: apt install libboost-context-dev, then reconfigure)\n",
             stderr);
  spec.notes.push_back("Boost.Context: not found at configure time, nothing to compare with");
#endif
  spec.lines.push_back({"A3 warm acquire + release", warm, "", 40.0, "the issue's target"});
  spec.lines.push_back({"A3 cold (parked_regions = 0)", cold, "", std::nullopt, ""});
  spec.lines.push_back({"A3 cold / warm", cold, warm, std::nullopt, ""});
  spec.lines.push_back({"A3 warm / Boost protected", warm, boost_protected, std::nullopt, ""});
  spec.lines.push_back({"A3 warm / Boost pooled", warm, boost_pooled, std::nullopt, ""});
  spec.lines.push_back({"A3 cold / Boost protected", cold, boost_protected, std::nullopt, ""});
  spec.lines.push_back(
      {"A3 cold + touch / Boost protected + touch", cold_touch, boost_protected_touch, std::nullopt, ""});
  spec.lines.push_back({"A4 placement flat, warm", "placement/warm/live:1000000", "placement/warm/live:1", 1.25,
                        "criterion of this benchmark (the issue says \"flat\" without a number)"});
  spec.lines.push_back({"A4 placement flat, cold", "placement/cold/live:1000000", "placement/cold/live:1", 1.25,
                        "criterion of this benchmark (the issue says \"flat\" without a number)"});
  spec.lines.push_back({"A5 colour off / on, 1,000 fibers", "colour/round_robin/fibers:1000/colour:0",
                        "colour/round_robin/fibers:1000/colour:1", std::nullopt, ""});
  spec.lines.push_back({"A5 region stacks (colour on) / fixed stacks, 1,000 fibers",
                        "colour/round_robin/fibers:1000/colour:1", "colour/round_robin_fixed_stacks/fibers:1000",
                        std::nullopt, ""});
  spec.lines.push_back({"A5 region stacks, default / dense reservation, 1,000 fibers",
                        "colour/round_robin/fibers:1000/colour:1", "colour/round_robin_dense_space/fibers:1000",
                        std::nullopt, ""});
  spec.lines.push_back({"diag: 1,000 pages 32 GiB apart, page bits equal / varying",
                        "page_chase/pages:1000/stride:34359738368", "page_chase/pages:1000/stride:34359742464",
                        std::nullopt, ""});
  spec.lines.push_back({"diag: 1,000 pages 1 MiB apart, page bits equal / varying", "page_chase/pages:1000/stride:1048576",
                        "page_chase/pages:1000/stride:1052672", std::nullopt, ""});
  spec.lines.push_back({"A5 colour off / on, 100 fibers", "colour/round_robin/fibers:100/colour:0",
                        "colour/round_robin/fibers:100/colour:1", std::nullopt, ""});
  spec.lines.push_back({"A5 colour off / on, 10,000 fibers", "colour/round_robin/fibers:10000/colour:0",
                        "colour/round_robin/fibers:10000/colour:1", std::nullopt, ""});
  return cospace::bench::run_op_benchmarks(argc, argv, &register_all, spec);
}
