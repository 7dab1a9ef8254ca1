// Context-switch benchmarks: the time of one one-way switch, for every cospace
// backend and, when CMake found Boost.Context, for Boost's two levels:
//
//   switch/cospace_asm             the hand-written switch (cospace_asm_fpshared
//                                  in a COSPACE_SHARED_FP_CONTROL=ON build)
//   switch/cospace_sjlj            _setjmp/_longjmp (+ fegetmode/fesetmode)
//   switch/cospace_ucontext        swapcontext (signal-mask system calls)
//   switch/boost_jump_fcontext     Boost.Context's raw make_fcontext/jump_fcontext
//   switch/boost_fiber_resume      boost::context::fiber, `f = std::move(f).resume()`
//
// Every benchmark is the same ping-pong (switch_bench.hpp): one iteration is a
// round trip, two one-way switches; per_switch and items_per_second are per
// one-way switch, in thread CPU time. The run ends with a summary: the median
// ns per switch of each benchmark over --benchmark_repetitions (CPU and real
// time), its ratio to jump_fcontext, and cospace asm / jump_fcontext against
// our target of 0.7.
//
// Usage (docs/benchmarks.md has the exact commands behind the published figures):
//   cospace_bench_context_switch --benchmark_repetitions=5 --benchmark_min_time=0.5
#include <cstdio>
#include <utility>

#include "context/validate.hpp"
#include "ping_pong.hpp"
#include "resume_shapes.hpp"
#include "switch_bench.hpp"

#if COSPACE_BENCH_HAVE_BOOST
#include <boost/context/fiber.hpp>
#include <boost/version.hpp>
#endif

namespace {

namespace ctx = cospace::context;
using cospace::bench::mapped_stack;
using cospace::bench::report_switches;

constexpr const char* cospace_asm_name =
    COSPACE_BENCH_SHARED_FP ? "switch/cospace_asm_fpshared" : "switch/cospace_asm";
constexpr const char* jump_fcontext_name = "switch/boost_jump_fcontext";

// ---- cospace backends ------------------------------------------------------
// The backend is a template argument, so every jump is a direct call to the
// backend's function, as the library itself makes it.

template <const ctx::backend& B>
void bm_cospace(benchmark::State& state) {
  mapped_stack stack;  // only to ask the backend whether it can switch here
  const cospace_status status = ctx::validate(B, stack.top(), stack.size(), &cospace::bench::pong_forever<cospace::bench::backend_switch<B>>);
  if (status != COSPACE_OK) {
    state.SkipWithError(cospace_status_message(status));
    return;
  }
  cospace::bench::flat_round_trips<cospace::bench::backend_switch<B>>(state, report_switches);
}

// ---- Boost.Context ---------------------------------------------------------

#if COSPACE_BENCH_HAVE_BOOST
void bm_jump_fcontext(benchmark::State& state) {
  cospace::bench::flat_round_trips<cospace::bench::fcontext_switch>(state, report_switches);
}

// boost::context::fiber's round trip: two switches plus its bookkeeping.
void bm_fiber_resume(benchmark::State& state) {
  namespace bc = boost::context;
  // Boost's default fixedsize_stack, allocated once, outside the timed loop.
  cospace::bench::resume_round_trips<bc::fiber>(
      state, [](auto&& entry) { return bc::fiber(std::forward<decltype(entry)>(entry)); }, report_switches);
}
#endif

void register_all() {
  using cospace::bench::register_switch;
  register_switch(cospace_asm_name, &bm_cospace<ctx::asm_backend>);
  register_switch("switch/cospace_sjlj", &bm_cospace<ctx::sjlj_backend>);
  register_switch("switch/cospace_ucontext", &bm_cospace<ctx::ucontext_backend>);
#if COSPACE_BENCH_HAVE_BOOST
  register_switch(jump_fcontext_name, &bm_jump_fcontext);
  register_switch("switch/boost_fiber_resume", &bm_fiber_resume);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  cospace::bench::op_summary_spec spec = cospace::bench::switch_summary("Context switch summary", jump_fcontext_name);
  spec.lines.push_back(cospace::bench::switch_ratio(cospace_asm_name, jump_fcontext_name, 0.7));
  spec.notes.push_back(COSPACE_BENCH_SHARED_FP
                           ? "asm backend floating-point control: shared per thread (COSPACE_SHARED_FP_CONTROL=ON)"
                           : "asm backend floating-point control: saved per context (x86-64: MXCSR reloaded always, x87 CW when it differs)");
#if COSPACE_BENCH_HAVE_BOOST
  spec.notes.push_back(std::string("Boost.Context ") + BOOST_LIB_VERSION + ", " + COSPACE_BENCH_BOOST_LINKAGE +
                       " library");
#else
  std::fputs("note: built without Boost.Context: jump_fcontext and fiber::resume are not measured "
             "(on Debian: apt install libboost-context-dev, then reconfigure)\n",
             stderr);
  spec.notes.push_back("Boost.Context: not found at configure time, nothing to compare with");
#endif
  return cospace::bench::run_switch_benchmarks(argc, argv, &register_all, spec);
}
