// Instructions per fiber or space operation, for callgrind (the counterpart of
// cospace_switch_instructions for cospace_bench_space and cospace_bench_fiber).
//
//   cospace_fiber_instructions <operation> [count]
//
// performs `count` (default 100,000) operations after 1,000 of warm-up, with
// callgrind's collection on only around the measured loop (when
// <valgrind/callgrind.h> was found), so that under
//
//   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=cg.out
//       cospace_fiber_instructions create_region 100000
//
// "Collected" / count is the number of user-space instructions per operation,
// loop included, and `callgrind_annotate cg.out` says which functions they are
// in. `bench/count_instructions.sh fiber` runs every operation and does the division.
// Callgrind does not see the kernel: the cold paths' system calls count as the
// few instructions that make them.
//
// Operations (the benchmark of the same name in brackets):
//   acquire_release        space_impl acquire_stack + release_stack, default
//                          parking (acquire_release/cospace_warm)
//   acquire_release_cold   the same with parked_regions = 0 (acquire_release/cospace_cold)
//   resume_yield           cospace::fiber resume + yield round trip (resume_yield/cospace_region)
//   create_region          cospace::fiber make + run to end + destroy (create_run_destroy/cospace_region)
//   create_fixed           the same on stack_kind::fixed (create_run_destroy/cospace_fixed)
//   boost_resume           boost::context::fiber resume round trip (resume_yield/boost_fiber)
//   boost_create_fixedsize, boost_create_pooled, boost_create_protected
//                          boost::context::fiber make + run + destroy (create_run_destroy/boost_*)
#include <cospace/fiber.hpp>
#include <cospace/space.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "callgrind_loop.hpp"
#include "space/space_impl.hpp"

#if COSPACE_BENCH_HAVE_BOOST
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#endif

namespace {

namespace cd = cospace::detail;

constexpr std::uint64_t warm_up = 1000;

using cospace::bench::collect_scope;

// Runs op() warm_up times, then count times with collection on.
template <class Op>
void measure(std::uint64_t count, Op&& op) {
  for (std::uint64_t i = 0; i < warm_up; ++i) op();
  const collect_scope collect;
  for (std::uint64_t i = 0; i < count; ++i) op();
}

void run_acquire_release(std::uint64_t count, std::size_t parked) {
  cospace::space_options options;
  options.parked_regions = parked;
  cospace::space space(options);
  cd::space_impl& impl = space.impl();
  const cd::stack_request request;
  measure(count, [&] {
    cd::region* r = impl.acquire_stack(request);
    asm volatile("" : : "r"(r) : "memory");
    impl.release_stack(r);
  });
}

void yield_forever() {
  for (;;) cospace::this_fiber::yield();
}

void run_resume_yield(std::uint64_t count) {
  cospace::fiber f(&yield_forever);
  measure(count, [&] { f.resume(); });
}

void run_create(std::uint64_t count, cospace::stack_kind kind) {
  cospace::fiber_options options;
  options.stack = kind;
  measure(count, [&] {
    cospace::fiber f([] {}, options);
    f.resume();
  });
}

#if COSPACE_BENCH_HAVE_BOOST
namespace bc = boost::context;

void run_boost_resume(std::uint64_t count) {
  bc::fiber f{[](bc::fiber&& caller) {
    for (;;) caller = std::move(caller).resume();
    return std::move(caller);
  }};
  measure(count, [&] { f = std::move(f).resume(); });
}

template <class Alloc>
void run_boost_create(std::uint64_t count) {
  Alloc alloc;
  measure(count, [&] {
    bc::fiber f{std::allocator_arg, alloc, [](bc::fiber&& caller) { return std::move(caller); }};
    f = std::move(f).resume();
    asm volatile("" : : "r"(&f) : "memory");
  });
}
#endif

constexpr const char* usage =
    "usage: cospace_fiber_instructions <operation> [count]\n"
    "  operations: acquire_release acquire_release_cold resume_yield create_region create_fixed"
#if COSPACE_BENCH_HAVE_BOOST
    "\n              boost_resume boost_create_fixedsize boost_create_pooled boost_create_protected"
#endif
    "\n  count: default 100000 (after 1000 of warm-up)\n";

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = cospace::bench::loop_count(argc, argv, 100'000, "cospace_fiber_instructions", "count", usage);
  if (!parsed) return 2;
  const std::uint64_t count = *parsed;
  const std::string_view op = argv[1];
  if (op == "acquire_release") run_acquire_release(count, 64);
  else if (op == "acquire_release_cold") run_acquire_release(count, 0);
  else if (op == "resume_yield") run_resume_yield(count);
  else if (op == "create_region") run_create(count, cospace::stack_kind::region);
  else if (op == "create_fixed") run_create(count, cospace::stack_kind::fixed);
#if COSPACE_BENCH_HAVE_BOOST
  else if (op == "boost_resume") run_boost_resume(count);
  else if (op == "boost_create_fixedsize") run_boost_create<bc::fixedsize_stack>(count);
  else if (op == "boost_create_pooled") run_boost_create<bc::pooled_fixedsize_stack>(count);
  else if (op == "boost_create_protected") run_boost_create<bc::protected_fixedsize_stack>(count);
#endif
  else {
    std::fprintf(stderr, "cospace_fiber_instructions: unknown operation '%s'\n%s", argv[1], usage);
    return 2;
  }
  std::printf("%s: %llu operations (%s)\n", argv[1], static_cast<unsigned long long>(count),
              cospace::bench::collection_note());
  return 0;
}
