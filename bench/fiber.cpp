// Benchmarks of the fiber API (issue "Fibers: the C++ and C API"), side by side
// with Boost.Context (and Boost.Fiber when CMake found it) in one run:
//
//   resume_yield/cospace_region   cospace::fiber::resume() of a fiber that loops on
//                                 this_fiber::yield(): one round trip (into the
//                                 fiber and back) per operation
//   resume_yield/cospace_fixed    the same on a stack_kind::fixed stack
//   resume_yield/boost_fiber      boost::context::fiber, `f = std::move(f).resume()`
//                                 into a body that resumes its caller in a loop
//                                 (the same round trip; default fixedsize_stack)
//   create_run_destroy/...        make a fiber whose body returns at once, run it
//                                 to its end, destroy it:
//     cospace_region              cospace::fiber, default region stack (the global
//                                 space, warm: the region comes back parked)
//     cospace_fixed               stack_kind::fixed (64 KiB from cospace's pool)
//     boost_fixedsize / boost_pooled / boost_protected
//                                 boost::context::fiber with fixedsize_stack,
//                                 pooled_fixedsize_stack (one pool for the run),
//                                 protected_fixedsize_stack
//     boost_fibers_join           boost::fibers::fiber + join() (Boost.Fiber's
//                                 scheduler and default stack), for reference
//
// Diagnosis (what the gap between the two libraries is made of):
//   resume_yield_diag/cospace_context_flat    cospace's context switch alone (the
//                                 selected backend), ping-pong written in the loop
//                                 itself, as Boost's fiber loop above is
//   resume_yield_diag/cospace_context_calls   the same, but each side switches from a
//                                 function of its own that returns afterwards (the
//                                 shape fiber::resume() and this_fiber::yield() had
//                                 before they made their switch as a tail call)
//   resume_yield_diag/cospace_context_shared  the same, both sides calling one function
//                                 (one call site for the switch)
//   resume_yield_diag/cospace_context_tail    each side calls a function that makes the
//                                 switch as a tail call (the shape of fiber::resume()
//                                 and this_fiber::yield() now)
//   resume_yield_diag/boost_fiber_calls       Boost's fiber round trip in that shape
//   create_diag/cospace_acquire_release       the global space's warm acquire_stack +
//                                 release_stack, the stack part of create_run_destroy
//   create_diag/cospace_context_make_run      make a context on a ready stack, jump in,
//                                 the entry jumps straight back (no fiber record)
//   create_diag/boost_fcontext_make_run       make_fcontext + jump_fcontext, the same
//
// The summary ends with the targets: resume + yield <= 0.8 x Boost's
// resume round trip; a region fiber's create + run + destroy <= 20 ns and
// <= 0.4 x Boost's pooled_fixedsize_stack.
//
// Usage (docs/benchmarks.md has the exact commands behind the published figures):
//   cospace_bench_fiber --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <cospace/fiber.hpp>

#include <cstdio>
#include <string>
#include <utility>

#include "context/backend.hpp"
#include "op_bench.hpp"
#include "ping_pong.hpp"
#include "resume_shapes.hpp"
#include "space/space_impl.hpp"
#include "stack.hpp"

#if COSPACE_BENCH_HAVE_BOOST
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <boost/version.hpp>
#endif
#if COSPACE_BENCH_HAVE_BOOST_FIBER
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>
#endif

namespace {

using cospace::bench::report_ops;

cospace::fiber_options options_for(cospace::stack_kind kind) {
  cospace::fiber_options o;
  o.stack = kind;
  return o;
}

// ---- resume + yield ------------------------------------------------------------

void yield_forever() {
  for (;;) cospace::this_fiber::yield();
}

void bm_cospace_resume_yield(benchmark::State& state, cospace::stack_kind kind) {
  cospace::fiber f(&yield_forever, options_for(kind));
  f.resume();
  for (auto _ : state) f.resume();
  report_ops(state);
  // Destroying the suspended fiber unwinds it (forced_unwind).
}

// ---- create + run to end + destroy -----------------------------------------------

void bm_cospace_create(benchmark::State& state, cospace::stack_kind kind) {
  const cospace::fiber_options options = options_for(kind);
  for (auto _ : state) {
    cospace::fiber f([] {}, options);
    f.resume();
  }
  report_ops(state);
}

#if COSPACE_BENCH_HAVE_BOOST
namespace bc = boost::context;

void bm_boost_resume(benchmark::State& state) {
  cospace::bench::resume_round_trips<bc::fiber>(state, [](auto&& entry) { return bc::fiber(std::forward<decltype(entry)>(entry)); });
}

template <class Alloc>
void bm_boost_create(benchmark::State& state) {
  Alloc alloc;  // pooled_fixedsize_stack: one pool for the whole run, shared by copies
  cospace::bench::create_run_end<bc::fiber>(state, [&alloc](auto&& entry) {
    return bc::fiber(std::allocator_arg, alloc, std::forward<decltype(entry)>(entry));
  });
}
#endif

// ---- diagnosis -------------------------------------------------------------------

namespace ctx = cospace::context;
using cospace::bench::mapped_stack;

using selected_switch = cospace::bench::backend_switch<ctx::selected>;

void bm_context_flat(benchmark::State& state) {
  cospace::bench::flat_round_trips<selected_switch>(state, cospace::bench::report_one_op);
}

// noipa: neither inlined nor merged with its twin (identical code folding).
[[gnu::noipa]] void context_resume_once(cospace_transfer& t) {
  t = ctx::selected.jump(t.from, nullptr);
  asm volatile("" : : : "memory");
}
[[gnu::noipa]] void context_yield_once(cospace_transfer& t) {
  t = ctx::selected.jump(t.from, nullptr);
  asm volatile("" : : : "memory");
}

void context_pong_calls(cospace_transfer t) {
  for (;;) context_yield_once(t);
}

void bm_context_calls(benchmark::State& state) {
  mapped_stack stack;
  cospace_transfer t = ctx::selected.jump(ctx::selected.make(stack.top(), stack.size(), &context_pong_calls), nullptr);
  for (auto _ : state) context_resume_once(t);
  report_ops(state);
}

// Both sides switch from one function, at one call site (the return after
// the switch goes where the other side's went: does that make it cheap?).
[[gnu::noipa]] void context_switch_once(cospace_transfer& t) {
  t = ctx::selected.jump(t.from, nullptr);
  asm volatile("" : : : "memory");
}
void context_pong_shared(cospace_transfer t) {
  for (;;) context_switch_once(t);
}
void bm_context_shared(benchmark::State& state) {
  mapped_stack stack;
  cospace_transfer t = ctx::selected.jump(ctx::selected.make(stack.top(), stack.size(), &context_pong_shared), nullptr);
  for (auto _ : state) context_switch_once(t);
  report_ops(state);
}

// Each side calls a function that makes the switch as a tail call: the
// switch's own return goes straight to the caller, as in fiber::resume()
// and this_fiber::yield() (fiber.hpp).
[[gnu::noipa]] cospace_transfer context_tail(cospace_context to, void* data) {
  asm volatile("" : : : "memory");
  return ctx::selected.jump(to, data);  // a tail call: the switch's ret returns to the caller
}
void context_pong_tail(cospace_transfer t) {
  for (;;) t = context_tail(t.from, nullptr);
}
void bm_context_tail(benchmark::State& state) {
  mapped_stack stack;
  cospace_transfer t = ctx::selected.jump(ctx::selected.make(stack.top(), stack.size(), &context_pong_tail), nullptr);
  for (auto _ : state) t = context_tail(t.from, nullptr);
  report_ops(state);
}

void bm_space_acquire_release(benchmark::State& state) {
  cospace::detail::space_impl& impl = cospace::space::global().impl();
  const cospace::detail::stack_request request;
  for (auto _ : state) {
    cospace::detail::region* r = impl.acquire_stack(request);
    benchmark::DoNotOptimize(r);
    impl.release_stack(r);
  }
  report_ops(state);
}

void bm_context_make_run(benchmark::State& state) {
  cospace::bench::make_and_run<selected_switch>(state, cospace::bench::report_one_op);
}

#if COSPACE_BENCH_HAVE_BOOST
[[gnu::noipa]] void boost_resume_once(bc::fiber& f) {
  f = std::move(f).resume();
  asm volatile("" : : : "memory");
}
[[gnu::noipa]] void boost_yield_once(bc::fiber& caller) {
  caller = std::move(caller).resume();
  asm volatile("" : : : "memory");
}

void bm_boost_resume_calls(benchmark::State& state) {
  bc::fiber f{[](bc::fiber&& caller) {
    for (;;) boost_yield_once(caller);
    return std::move(caller);
  }};
  f = std::move(f).resume();
  for (auto _ : state) boost_resume_once(f);
  report_ops(state);
}

void bm_fcontext_make_run(benchmark::State& state) {
  cospace::bench::make_and_run<cospace::bench::fcontext_switch>(state, cospace::bench::report_one_op);
}
#endif

#if COSPACE_BENCH_HAVE_BOOST_FIBER
void bm_boost_fibers(benchmark::State& state) {
  for (auto _ : state) {
    boost::fibers::fiber f([] {});
    f.join();
  }
  report_ops(state);
}
#endif

// ---- registration and summary -----------------------------------------------

constexpr const char* cospace_resume = "resume_yield/cospace_region";
constexpr const char* cospace_resume_fixed = "resume_yield/cospace_fixed";
constexpr const char* boost_resume = "resume_yield/boost_fiber";
constexpr const char* create_region = "create_run_destroy/cospace_region";
constexpr const char* create_fixed = "create_run_destroy/cospace_fixed";
constexpr const char* create_boost_fixedsize = "create_run_destroy/boost_fixedsize";
constexpr const char* create_boost_pooled = "create_run_destroy/boost_pooled";
constexpr const char* create_boost_protected = "create_run_destroy/boost_protected";
constexpr const char* create_boost_fibers = "create_run_destroy/boost_fibers_join";
constexpr const char* diag_context_flat = "resume_yield_diag/cospace_context_flat";
constexpr const char* diag_context_calls = "resume_yield_diag/cospace_context_calls";
constexpr const char* diag_context_tail = "resume_yield_diag/cospace_context_tail";
constexpr const char* diag_context_shared = "resume_yield_diag/cospace_context_shared";
constexpr const char* diag_boost_calls = "resume_yield_diag/boost_fiber_calls";
constexpr const char* diag_acquire_release = "create_diag/cospace_acquire_release";
constexpr const char* diag_context_make_run = "create_diag/cospace_context_make_run";
constexpr const char* diag_fcontext_make_run = "create_diag/boost_fcontext_make_run";

void register_all() {
  auto add = [](const char* name, auto fn) {
    return benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kNanosecond);
  };
  using cospace::stack_kind;
  add(cospace_resume, [](benchmark::State& s) { bm_cospace_resume_yield(s, stack_kind::region); });
  add(cospace_resume_fixed, [](benchmark::State& s) { bm_cospace_resume_yield(s, stack_kind::fixed); });
#if COSPACE_BENCH_HAVE_BOOST
  add(boost_resume, &bm_boost_resume);
#endif
  add(create_region, [](benchmark::State& s) { bm_cospace_create(s, stack_kind::region); });
  add(create_fixed, [](benchmark::State& s) { bm_cospace_create(s, stack_kind::fixed); });
#if COSPACE_BENCH_HAVE_BOOST
  add(create_boost_fixedsize, &bm_boost_create<bc::fixedsize_stack>);
  add(create_boost_pooled, &bm_boost_create<bc::pooled_fixedsize_stack>);
  add(create_boost_protected, &bm_boost_create<bc::protected_fixedsize_stack>);
#endif
#if COSPACE_BENCH_HAVE_BOOST_FIBER
  add(create_boost_fibers, &bm_boost_fibers);
#endif
  add(diag_context_flat, &bm_context_flat);
  add(diag_context_calls, &bm_context_calls);
  add(diag_context_tail, &bm_context_tail);
  add(diag_context_shared, &bm_context_shared);
#if COSPACE_BENCH_HAVE_BOOST
  add(diag_boost_calls, &bm_boost_resume_calls);
#endif
  add(diag_acquire_release, &bm_space_acquire_release);
  add(diag_context_make_run, &bm_context_make_run);
#if COSPACE_BENCH_HAVE_BOOST
  add(diag_fcontext_make_run, &bm_fcontext_make_run);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  using cospace::bench::summary_line;
  cospace::bench::op_summary_spec spec;
  spec.title = "Fiber summary";
  spec.references = {{"resume_yield", boost_resume}, {"create_", create_boost_pooled}};
  spec.notes.push_back("resume_yield/*: one round trip (resume + yield); create_run_destroy/*: one fiber made, "
                       "run to its end and destroyed");
#if COSPACE_BENCH_HAVE_BOOST
  spec.notes.push_back(std::string("Boost.Context ") + BOOST_LIB_VERSION + ", " + COSPACE_BENCH_BOOST_LINKAGE +
                       " library, default stack size");
#else
  std::fputs("note: built without Boost.Context: nothing to compare with "
             "(on Debian: apt install libboost-context-dev, then reconfigure)\n",
             stderr);
  spec.notes.push_back("Boost.Context: not found at configure time, nothing to compare with");
#endif
#if COSPACE_BENCH_HAVE_BOOST_FIBER
  spec.notes.push_back("Boost.Fiber: found (boost::fibers::fiber + join, default scheduler and stack)");
#else
  spec.notes.push_back("Boost.Fiber: not found at configure time (apt install libboost-fiber-dev), not measured");
#endif
  spec.lines.push_back({"B1 resume + yield", cospace_resume, boost_resume, 0.8, "the issue's target"});
  spec.lines.push_back({"B1 resume + yield, fixed stack", cospace_resume_fixed, boost_resume, std::nullopt, ""});
  spec.lines.push_back({"B2 region fiber, warm", create_region, "", 20.0, "the issue's target"});
  spec.lines.push_back({"B2 region fiber", create_region, create_boost_pooled, 0.4, "the issue's target"});
  spec.lines.push_back({"B2 fixed fiber", create_fixed, create_boost_pooled, std::nullopt, ""});
  spec.lines.push_back({"B2 region fiber", create_region, create_boost_fixedsize, std::nullopt, ""});
  spec.lines.push_back({"B2 region fiber", create_region, create_boost_protected, std::nullopt, ""});
#if COSPACE_BENCH_HAVE_BOOST_FIBER
  spec.lines.push_back({"B2 region fiber", create_region, create_boost_fibers, std::nullopt, ""});
#endif
  // Diagnosis: where the resume + yield gap comes from (no targets).
  spec.lines.push_back({"diag: call shape, Boost", diag_boost_calls, boost_resume, std::nullopt, ""});
  spec.lines.push_back({"diag: call shape, cospace switch", diag_context_calls, diag_context_flat, std::nullopt, ""});
  spec.lines.push_back({"diag: switch alone, cospace / Boost", diag_context_flat, boost_resume, std::nullopt, ""});
  spec.lines.push_back({"diag: same call shape, cospace switch / Boost", diag_context_calls, diag_boost_calls,
                        std::nullopt, ""});
  spec.lines.push_back({"diag: fiber API / its switch in the same shape", cospace_resume, diag_context_calls,
                        std::nullopt, ""});
  spec.lines.push_back({"diag: same call shape, cospace fiber / Boost", cospace_resume, diag_boost_calls, std::nullopt,
                        ""});
  return cospace::bench::run_op_benchmarks(argc, argv, &register_all, spec);
}
