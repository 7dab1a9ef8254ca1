// Instructions per context switch, for callgrind.
//
//   cospace_switch_instructions <variant> [round_trips]
//
// runs `round_trips` (default 1,000,000) round trips between the main thread
// and one context on one variant, the same ping-pong loop as the benchmarks:
// each round trip is two one-way switches. Variants: asm, sjlj, ucontext and,
// when built with Boost.Context, jump_fcontext and fiber.
//
// When <valgrind/callgrind.h> is available, only the loop is counted: the
// program starts the collection just before the loop and stops it just after,
// so under
//
//   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null
//       cospace_switch_instructions asm 1000000
//
// callgrind's "Collected" figure divided by 2 x round_trips is the number of
// instructions per one-way switch, loop included (the caller's call, loop
// counter and argument moves: about five instructions a switch on each
// variant). `bench/count_instructions.sh switch` runs every variant and does the division.
// Callgrind counts instructions, not time: ldmxcsr and fldcw count as one each
// however long they take.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "callgrind_loop.hpp"
#include "context/validate.hpp"
#include "stack.hpp"

#if COSPACE_BENCH_HAVE_BOOST
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#endif

namespace {

namespace ctx = cospace::context;
using cospace::bench::mapped_stack;

using cospace::bench::collect_scope;

template <const ctx::backend& B>
void cospace_pong(cospace_transfer t) {
  for (;;) t = B.jump(t.from, nullptr);
}

template <const ctx::backend& B>
int run_cospace(std::uint64_t round_trips) {
  mapped_stack stack;
  const cospace_status status = ctx::validate(B, stack.top(), stack.size(), &cospace_pong<B>);
  if (status != COSPACE_OK) {
    std::fprintf(stderr, "%s: %s\n", B.name, cospace_status_message(status));
    return 1;
  }
  cospace_transfer t = B.jump(B.make(stack.top(), stack.size(), &cospace_pong<B>), nullptr);
  {
    const collect_scope collect;
    for (std::uint64_t i = 0; i < round_trips; ++i) t = B.jump(t.from, nullptr);
  }
  return 0;
}

#if COSPACE_BENCH_HAVE_BOOST
namespace fc = boost::context::detail;

void fcontext_pong(fc::transfer_t t) {
  for (;;) t = fc::jump_fcontext(t.fctx, nullptr);
}

int run_jump_fcontext(std::uint64_t round_trips) {
  mapped_stack stack;
  fc::transfer_t t = fc::jump_fcontext(fc::make_fcontext(stack.top(), stack.size(), &fcontext_pong), nullptr);
  {
    const collect_scope collect;
    for (std::uint64_t i = 0; i < round_trips; ++i) t = fc::jump_fcontext(t.fctx, nullptr);
  }
  return 0;
}

int run_fiber(std::uint64_t round_trips) {
  namespace bc = boost::context;
  bc::fiber f{[](bc::fiber&& caller) {
    for (;;) caller = std::move(caller).resume();
    return std::move(caller);
  }};
  f = std::move(f).resume();
  {
    const collect_scope collect;
    for (std::uint64_t i = 0; i < round_trips; ++i) f = std::move(f).resume();
  }
  return 0;
}
#endif

constexpr const char* usage =
    "usage: cospace_switch_instructions <variant> [round_trips]\n"
    "  variant: asm sjlj ucontext"
#if COSPACE_BENCH_HAVE_BOOST
    " jump_fcontext fiber"
#endif
    "\n  round_trips: default 1000000; each is two one-way switches\n";

}  // namespace

int main(int argc, char** argv) {
  const auto parsed =
      cospace::bench::loop_count(argc, argv, 1'000'000, "cospace_switch_instructions", "round_trips", usage);
  if (!parsed) return 2;
  const std::uint64_t round_trips = *parsed;
  const std::string_view variant = argv[1];
  int rc = 2;
  if (variant == "asm") {
    rc = run_cospace<ctx::asm_backend>(round_trips);
  } else if (variant == "sjlj") {
    rc = run_cospace<ctx::sjlj_backend>(round_trips);
  } else if (variant == "ucontext") {
    rc = run_cospace<ctx::ucontext_backend>(round_trips);
#if COSPACE_BENCH_HAVE_BOOST
  } else if (variant == "jump_fcontext") {
    rc = run_jump_fcontext(round_trips);
  } else if (variant == "fiber") {
    rc = run_fiber(round_trips);
#endif
  } else {
    std::fprintf(stderr, "cospace_switch_instructions: unknown variant '%s'\n%s", argv[1], usage);
    return 2;
  }
  if (rc == 0) {
    std::printf("%s: %llu round trips = %llu one-way switches (%s)\n", argv[1],
                static_cast<unsigned long long>(round_trips),
                static_cast<unsigned long long>(2 * round_trips),
                cospace::bench::collection_note());
  }
  return rc;
}
