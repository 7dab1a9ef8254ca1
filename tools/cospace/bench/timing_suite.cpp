#include "timing_suite.hpp"

#include <sys/mman.h>

#include <cospace/fiber.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <utility>

#include "context/validate.hpp"

#if COSPACE_TOOL_USE_BOOST
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#endif

namespace cospace::tool::bench {
namespace {

namespace ctx = cospace::context;

// A stack for a bare context: an anonymous mapping, unmapped at the end. The
// contexts made on it are left suspended forever and hold nothing to destroy.
class bare_stack {
 public:
  static constexpr std::size_t size = 256 * 1024;
  bare_stack() {
    base_ = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base_ == MAP_FAILED) throw std::runtime_error("mmap of a stack for the switch timing failed");
  }
  bare_stack(const bare_stack&) = delete;
  bare_stack& operator=(const bare_stack&) = delete;
  ~bare_stack() { munmap(base_, size); }
  void* top() const noexcept { return static_cast<std::byte*>(base_) + size; }

 private:
  void* base_;
};

// A row to measure: how to set its operation up, or why it cannot be.
struct planned_row {
  std::string section;
  timing_row row;
  std::function<timed_op()> set_up;  // empty: not available, row.reason says why
};

// ---- context switch ----------------------------------------------------------

template <const ctx::backend& B>
void bounce(cospace_transfer t) {
  for (;;) t = B.jump(t.from, nullptr);
}

// A round trip is two one-way switches: the figure is per switch.
template <const ctx::backend& B>
timed_op backend_switch(const timing_plan& plan) {
  auto stack = std::make_shared<bare_stack>();
  const cospace_status status = ctx::validate(B, stack->top(), bare_stack::size, &bounce<B>);
  if (status != COSPACE_OK) throw std::runtime_error(cospace_status_message(status));
  auto t = std::make_shared<cospace_transfer>(B.jump(B.make(stack->top(), bare_stack::size, &bounce<B>), nullptr));
  return timed_op(
      plan,
      [stack, t](std::uint64_t n) {
        for (std::uint64_t i = 0; i < n; ++i) *t = B.jump(t->from, nullptr);
      },
      2);
}

#if COSPACE_TOOL_USE_BOOST
namespace fc = boost::context::detail;
namespace bc = boost::context;

void fcontext_bounce(fc::transfer_t t) {
  for (;;) t = fc::jump_fcontext(t.fctx, nullptr);
}

timed_op jump_fcontext_switch(const timing_plan& plan) {
  auto stack = std::make_shared<bare_stack>();
  auto t = std::make_shared<fc::transfer_t>(
      fc::jump_fcontext(fc::make_fcontext(stack->top(), bare_stack::size, &fcontext_bounce), nullptr));
  return timed_op(
      plan,
      [stack, t](std::uint64_t n) {
        for (std::uint64_t i = 0; i < n; ++i) *t = fc::jump_fcontext(t->fctx, nullptr);
      },
      2);
}

timed_op boost_resume(const timing_plan& plan) {
  auto f = std::make_shared<bc::fiber>([](bc::fiber&& caller) {
    for (;;) caller = std::move(caller).resume();
    return std::move(caller);
  });
  *f = std::move(*f).resume();
  return timed_op(plan, [f](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) *f = std::move(*f).resume();
  });
}

template <class Alloc>
timed_op boost_create(const timing_plan& plan) {
  return timed_op(plan, [alloc = Alloc{}](std::uint64_t n) mutable {  // pooled: one pool for the whole measurement
    for (std::uint64_t i = 0; i < n; ++i) {
      bc::fiber f{std::allocator_arg, alloc, [](bc::fiber&& caller) { return std::move(caller); }};
      f = std::move(f).resume();
    }
  });
}
#endif

// ---- cospace fibers ----------------------------------------------------------

fiber_options options_for(stack_kind kind) {
  fiber_options o;
  o.stack = kind;
  return o;
}

void yield_forever(void*) {
  for (;;) this_fiber::yield();
}

// resume + yield round trip of a fiber suspended `depth` bytes deep.
timed_op resume_yield(const timing_plan& plan, stack_kind kind, std::size_t depth) {
  // Destroying the suspended fiber at the end unwinds it.
  auto f = std::make_shared<fiber>([depth] { run_at_depth(depth, &yield_forever, nullptr); }, options_for(kind));
  f->resume();
  return timed_op(plan, [f](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) f->resume();
  });
}

timed_op create_run_destroy(const timing_plan& plan, stack_kind kind) {
  return timed_op(plan, [options = options_for(kind)](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      fiber f([] {}, options);
      f.resume();
    }
  });
}

std::string kind_label(stack_kind kind) {
  switch (kind) {
    case stack_kind::region: return "region stack";
    case stack_kind::fixed: return "fixed 64 KiB stack";
    case stack_kind::sliced: return "sliced (shared) stack";
  }
  return "?";
}

std::string cospace_name(stack_kind kind) { return std::string("cospace_") + to_string(kind); }

planned_row plan_row(std::string section, std::string name, std::string description,
                     std::function<timed_op()> set_up) {
  return {std::move(section), {std::move(name), std::move(description), std::nullopt, {}, std::nullopt},
          std::move(set_up)};
}

std::vector<planned_row> plan_rows(const timing_plan& plan, bool quick) {
  std::vector<planned_row> rows;
  rows.push_back(plan_row("switch", "cospace_asm", "cospace asm backend (hand-written switch)",
                          [&] { return backend_switch<ctx::asm_backend>(plan); }));
  rows.push_back(plan_row("switch", "cospace_sjlj", "cospace sjlj backend (_setjmp/_longjmp)",
                          [&] { return backend_switch<ctx::sjlj_backend>(plan); }));
  rows.push_back(plan_row("switch", "cospace_ucontext", "cospace ucontext backend (swapcontext, a system call)",
                          [&] { return backend_switch<ctx::ucontext_backend>(plan); }));
  for (const stack_kind kind : {stack_kind::region, stack_kind::fixed, stack_kind::sliced}) {
    rows.push_back(plan_row("resume_yield", cospace_name(kind),
                            "cospace::fiber, " + kind_label(kind) + ": resume() + this_fiber::yield()",
                            [&plan, kind] { return resume_yield(plan, kind, 0); }));
    rows.push_back(plan_row("create_run_destroy", cospace_name(kind),
                            "cospace::fiber, " + kind_label(kind) + ": make, run an empty body, destroy",
                            [&plan, kind] { return create_run_destroy(plan, kind); }));
  }
  // Boost's rows: measured when linked, otherwise present with the reason.
  std::vector<planned_row> boost = {
      plan_row("switch", "boost_jump_fcontext", "Boost.Context jump_fcontext", nullptr),
      plan_row("resume_yield", "boost_fiber", "boost::context::fiber resume() round trip (fixedsize_stack)", nullptr),
      plan_row("create_run_destroy", "boost_fixedsize", "boost::context::fiber on fixedsize_stack (malloc)", nullptr),
      plan_row("create_run_destroy", "boost_pooled", "boost::context::fiber on pooled_fixedsize_stack", nullptr),
      plan_row("create_run_destroy", "boost_protected",
               "boost::context::fiber on protected_fixedsize_stack (mmap + guard page)", nullptr),
  };
#if COSPACE_TOOL_USE_BOOST
  boost[0].set_up = [&] { return jump_fcontext_switch(plan); };
  boost[1].set_up = [&] { return boost_resume(plan); };
  boost[2].set_up = [&] { return boost_create<bc::fixedsize_stack>(plan); };
  boost[3].set_up = [&] { return boost_create<bc::pooled_fixedsize_stack>(plan); };
  boost[4].set_up = [&] { return boost_create<bc::protected_fixedsize_stack>(plan); };
#endif
  for (planned_row& b : boost) {
    if (!b.set_up) b.row.reason = "not available: " + boost_description();
    rows.push_back(std::move(b));
  }
  // A sliced fiber copies its stack out and back at every switch, so its cost
  // grows with the depth; a region fiber at the same depth is the reference.
  const std::vector<std::size_t> depths =
      quick ? std::vector<std::size_t>{256, 4096, 65536} : std::vector<std::size_t>{256, 1024, 4096, 16384, 65536};
  for (const stack_kind kind : {stack_kind::sliced, stack_kind::region}) {
    for (const std::size_t depth : depths) {
      planned_row r = plan_row("sliced_switch_vs_depth", cospace_name(kind) + "_depth_" + std::to_string(depth),
                               "cospace::fiber, " + kind_label(kind) + ", suspended " + std::to_string(depth) +
                                   " bytes deep",
                               [&plan, kind, depth] { return resume_yield(plan, kind, depth); });
      r.row.depth_bytes = depth;
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

}  // namespace

const timing_row* timing_section::find(const std::string& name) const {
  for (const timing_row& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

timing_section& section(std::vector<timing_section>& sections, const std::string& key) {
  for (timing_section& s : sections)
    if (s.key == key) return s;
  throw std::logic_error("no timing section " + key);
}

std::vector<timing_section> run_timing_suite(const timing_plan& plan, bool quick) {
  std::vector<planned_row> planned = plan_rows(plan, quick);
  // Set every operation up (an exception says why a row cannot be measured),
  // then time one batch of each in turn, `repetitions` times.
  std::vector<std::optional<timed_op>> ops(planned.size());
  for (std::size_t i = 0; i < planned.size(); ++i) {
    if (!planned[i].set_up) continue;
    try {
      ops[i].emplace(planned[i].set_up());
    } catch (const std::exception& e) {
      planned[i].row.reason = e.what();
    }
  }
  std::vector<std::vector<double>> samples(planned.size());
  for (int round = 0; round < plan.repetitions; ++round)
    for (std::size_t i = 0; i < planned.size(); ++i)
      if (ops[i]) samples[i].push_back(ops[i]->sample());
  ops.clear();  // ends the suspended fibers and contexts

  std::vector<timing_section> s = {
      {"switch", "Context switch, ns per one-way switch", "ns_per_switch", {}},
      {"resume_yield", "Fiber resume + yield, ns per round trip (two switches)", "ns_per_round_trip", {}},
      {"create_run_destroy", "Create + run to the end + destroy, ns per fiber", "ns_per_fiber", {}},
      {"sliced_switch_vs_depth", "Resume + yield of a fiber suspended at a depth, ns per round trip",
       "ns_per_round_trip", {}},
  };
  for (std::size_t i = 0; i < planned.size(); ++i) {
    if (!samples[i].empty()) planned[i].row.ns = median(std::move(samples[i]));
    section(s, planned[i].section).rows.push_back(std::move(planned[i].row));
  }
  return s;
}

}  // namespace cospace::tool::bench
