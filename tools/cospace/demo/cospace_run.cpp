// The demo's workload on cospace fibers (any stack kind).
#include <cospace/fiber.hpp>
#include <cospace/space.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "drive.hpp"
#include "fiber/fiber_control.hpp"
#include "machine.hpp"
#include "runs.hpp"
#include "workload.hpp"

namespace cospace::tool {
namespace {

fiber make_fiber(stack_kind kind, std::uint32_t depth, unsigned yields,
                 detail::fiber_control** control = nullptr) {
  return fiber(
      [depth, yields, control] {
        if (control != nullptr) *control = detail::current_fiber();
        const std::uintptr_t base = frame_address();
        auto yield = [] { this_fiber::yield(); };
        (void)descend(base, depth, yields, yield);
      },
      {.stack = kind});
}

struct cospace_fibers {
  stack_kind kind;
  unsigned yields;
  std::vector<fiber> slots;

  void start(std::uint64_t k, std::uint32_t depth) {
    try {
      slots[k] = make_fiber(kind, depth, yields);
    } catch (const std::exception& e) {
      throw std::runtime_error("after " + with_commas(k) + " fibers: " + e.what());
    }
    slots[k].resume();
  }
  void resume(std::uint64_t k) { slots[k].resume(); }
  void finish(std::uint64_t k) {
    slots[k].resume();
    slots[k].reset();
  }
};

}  // namespace

stack_overhead measure_overhead(stack_kind kind) {
  detail::fiber_control* control = nullptr;
  fiber probe = make_fiber(kind, 0, 1, &control);
  probe.resume();  // now suspended in its one yield
  stack_overhead o;
  o.at_depth_zero = control->stack.top - reinterpret_cast<std::uintptr_t>(control->context);
  o.usable = control->stack.top - control->stack.bottom;
  probe.resume();
  return o;
}

run_result run_cospace(stack_kind kind, const run_plan& plan) {
  const space_stats before = space::global().stats();
  cospace_fibers fibers{kind, plan.yields, std::vector<fiber>(plan.order.size())};
  run_result result = drive(plan, fibers);
  if (kind == stack_kind::region) {
    const space_stats after = space::global().stats();
    result.growth_events = after.growth_events - before.growth_events;
    result.overflows_caught = after.overflows_caught - before.overflows_caught;
  }
  return result;
}

}  // namespace cospace::tool
