// The demo's workload on Boost.Context: boost::context::fiber on a
// fixedsize_stack (malloc'd, no guard page), when the tool is built with it.
#include <cstdint>
#include <vector>

#include "runs.hpp"

#if COSPACE_TOOL_BOOST_CONTEXT
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>

#include "drive.hpp"
#include "workload.hpp"
#endif

namespace cospace::tool {

#if COSPACE_TOOL_BOOST_CONTEXT

namespace {

namespace ctx = boost::context;

struct boost_fibers {
  std::uint64_t stack_bytes;
  unsigned yields;
  std::vector<ctx::fiber> slots;

  void start(std::uint64_t k, std::uint32_t depth) {
    const unsigned n = yields;
    slots[k] = ctx::fiber(std::allocator_arg, ctx::fixedsize_stack(stack_bytes),
                          [depth, n](ctx::fiber&& sink) {
                            const std::uintptr_t base = frame_address();
                            auto yield = [&sink] { sink = std::move(sink).resume(); };
                            (void)descend(base, depth, n, yield);
                            return std::move(sink);
                          });
    resume(k);
  }
  void resume(std::uint64_t k) { slots[k] = std::move(slots[k]).resume(); }
  void finish(std::uint64_t k) { resume(k); }  // returns an empty fiber: the stack is freed
};

}  // namespace

bool have_boost_context() { return true; }

run_result run_boost_context(std::uint64_t stack_bytes, const run_plan& plan) {
  boost_fibers fibers{stack_bytes, plan.yields, std::vector<ctx::fiber>(plan.order.size())};
  return drive(plan, fibers);
}

#else

bool have_boost_context() { return false; }
run_result run_boost_context(std::uint64_t, const run_plan&) { return {}; }

#endif

}  // namespace cospace::tool
