// cospace::fiber_context next to boost::context::fiber, in one run
// (issue "fiber_context: the interface proposed for standard C++"):
//
//   fiber_context_resume/cospace_region   `f = std::move(f).resume()` into an
//                          entry that resumes its caller in a loop: one round
//                          trip (there and back) per operation; region stack
//   fiber_context_resume/cospace_fixed    the same on a stack_kind::fixed stack
//   fiber_context_resume/boost_fiber      the same code with boost::context::fiber
//                          (default fixedsize_stack)
//   fiber_context_resume_with/...         a round trip whose way in is
//                          resume_with(fn), fn returning its argument
//   fiber_context_create/...              make a context whose entry returns its
//                          caller at once, resume it, let it end:
//     cospace_region (warm region of the global space), boost_pooled
//     (pooled_fixedsize_stack), boost_fixedsize (fixedsize_stack)
//   fiber_context_diag/cospace_jump_flat  the floor: cospace's context switch
//                          alone (selected backend) in the same loop shape
//   fiber_context_diag/boost_jump_flat    Boost's jump_fcontext alone
//
// The summary ends with the target: a resume round trip <= 0.8 x
// Boost's fiber.
//
// Usage (docs/benchmarks/fiber_context.md has the commands behind the figures):
//   cospace_bench_fiber_context --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <cospace/fiber_context.hpp>

#include <cstdio>
#include <string>
#include <utility>

#include "context/backend.hpp"
#include "op_bench.hpp"
#include "ping_pong.hpp"
#include "resume_shapes.hpp"

#if COSPACE_BENCH_HAVE_BOOST
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/version.hpp>
#endif

namespace {

using cospace::bench::create_run_end;
using cospace::bench::report_one_op;
using cospace::bench::resume_round_trips;
using cospace::bench::resume_with_round_trips;

auto cospace_maker(cospace::stack_kind kind) {
  return [kind](auto&& entry) {
    cospace::fiber_options o;
    o.stack = kind;
    return cospace::fiber_context(std::forward<decltype(entry)>(entry), o);
  };
}

void bm_cospace_jump_flat(benchmark::State& state) {
  cospace::bench::flat_round_trips<cospace::bench::backend_switch<cospace::context::selected>>(state, report_one_op);
}

#if COSPACE_BENCH_HAVE_BOOST
namespace bc = boost::context;

template <class Alloc>
auto boost_maker() {
  return [](auto&& entry) { return bc::fiber(std::allocator_arg, Alloc(), std::forward<decltype(entry)>(entry)); };
}

void bm_boost_jump_flat(benchmark::State& state) {
  cospace::bench::flat_round_trips<cospace::bench::fcontext_switch>(state, report_one_op);
}
#endif

constexpr const char* resume_region = "fiber_context_resume/cospace_region";
constexpr const char* resume_fixed = "fiber_context_resume/cospace_fixed";
constexpr const char* resume_boost = "fiber_context_resume/boost_fiber";
constexpr const char* with_region = "fiber_context_resume_with/cospace_region";
constexpr const char* with_boost = "fiber_context_resume_with/boost_fiber";
constexpr const char* create_region = "fiber_context_create/cospace_region";
constexpr const char* create_boost_pooled = "fiber_context_create/boost_pooled";
constexpr const char* create_boost_fixedsize = "fiber_context_create/boost_fixedsize";
constexpr const char* jump_cospace = "fiber_context_diag/cospace_jump_flat";
constexpr const char* jump_boost = "fiber_context_diag/boost_jump_flat";

void register_all() {
  auto add = [](const char* name, auto fn) {
    return benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kNanosecond);
  };
  using cospace::fiber_context;
  using cospace::stack_kind;
  add(resume_region, [](benchmark::State& s) { resume_round_trips<fiber_context>(s, cospace_maker(stack_kind::region)); });
  add(resume_fixed, [](benchmark::State& s) { resume_round_trips<fiber_context>(s, cospace_maker(stack_kind::fixed)); });
  add(with_region,
      [](benchmark::State& s) { resume_with_round_trips<fiber_context>(s, cospace_maker(stack_kind::region)); });
  add(create_region, [](benchmark::State& s) { create_run_end<fiber_context>(s, cospace_maker(stack_kind::region)); });
  add(jump_cospace, &bm_cospace_jump_flat);
#if COSPACE_BENCH_HAVE_BOOST
  add(resume_boost, [](benchmark::State& s) { resume_round_trips<bc::fiber>(s, boost_maker<bc::fixedsize_stack>()); });
  add(with_boost, [](benchmark::State& s) { resume_with_round_trips<bc::fiber>(s, boost_maker<bc::fixedsize_stack>()); });
  add(create_boost_pooled, [](benchmark::State& s) {
    bc::pooled_fixedsize_stack pool;  // one pool for the run, shared by its copies
    create_run_end<bc::fiber>(s, [&pool](auto&& entry) {
      return bc::fiber(std::allocator_arg, pool, std::forward<decltype(entry)>(entry));
    });
  });
  add(create_boost_fixedsize,
      [](benchmark::State& s) { create_run_end<bc::fiber>(s, boost_maker<bc::fixedsize_stack>()); });
  add(jump_boost, &bm_boost_jump_flat);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  cospace::bench::op_summary_spec spec;
  spec.title = "fiber_context summary";
  spec.references = {{"fiber_context_resume/", resume_boost},
                     {"fiber_context_resume_with/", with_boost},
                     {"fiber_context_create/", create_boost_pooled},
                     {"fiber_context_diag/", jump_boost}};
  spec.notes.push_back("fiber_context_resume*: one round trip (there and back); fiber_context_create: one context "
                       "made, run to its end, released");
  spec.notes.push_back(std::string("context backend: ") + cospace::context::selected.name);
#if COSPACE_BENCH_HAVE_BOOST
  spec.notes.push_back(std::string("Boost.Context ") + BOOST_LIB_VERSION + ", " + COSPACE_BENCH_BOOST_LINKAGE +
                       " library, default stack size");
#else
  std::fputs("note: built without Boost.Context: nothing to compare with "
             "(on Debian: apt install libboost-context-dev, then reconfigure)\n",
             stderr);
  spec.notes.push_back("Boost.Context: not found at configure time, nothing to compare with");
#endif
  spec.lines.push_back({"resume round trip", resume_region, resume_boost, 0.8, "the issue's target"});
  spec.lines.push_back({"resume round trip, fixed stack", resume_fixed, resume_boost, std::nullopt, ""});
  spec.lines.push_back({"resume_with round trip", with_region, with_boost, std::nullopt, ""});
  spec.lines.push_back({"create + run + end", create_region, create_boost_pooled, std::nullopt, ""});
  spec.lines.push_back({"create + run + end", create_region, create_boost_fixedsize, std::nullopt, ""});
  spec.lines.push_back({"diag: switch alone, cospace / Boost", jump_cospace, jump_boost, std::nullopt, ""});
  spec.lines.push_back({"diag: fiber_context / its switch alone", resume_region, jump_cospace, std::nullopt, ""});
  spec.lines.push_back({"diag: Boost fiber / its switch alone", resume_boost, jump_boost, std::nullopt, ""});
  return cospace::bench::run_op_benchmarks(argc, argv, &register_all, spec);
}
