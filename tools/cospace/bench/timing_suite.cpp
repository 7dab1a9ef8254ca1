#include "timing_suite.hpp"

#include <sys/mman.h>

#include <cospace/fiber.hpp>

#include <exception>
#include <functional>
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

// Runs `measure` and fills the row; an exception becomes the row's reason.
timing_row measured(std::string name, std::string description, const std::function<double()>& measure) {
  timing_row row{std::move(name), std::move(description), std::nullopt, {}, std::nullopt};
  try {
    row.ns = measure();
  } catch (const std::exception& e) {
    row.reason = e.what();
  }
  return row;
}

[[maybe_unused]] timing_row unavailable(std::string name, std::string description, std::string reason) {
  return {std::move(name), std::move(description), std::nullopt, std::move(reason), std::nullopt};
}

// ---- context switch ----------------------------------------------------------

template <const ctx::backend& B>
void bounce(cospace_transfer t) {
  for (;;) t = B.jump(t.from, nullptr);
}

// ns per one-way switch: one operation is a round trip, two switches.
template <const ctx::backend& B>
double time_backend(const timing_plan& plan) {
  bare_stack stack;
  const cospace_status status = ctx::validate(B, stack.top(), bare_stack::size, &bounce<B>);
  if (status != COSPACE_OK) throw std::runtime_error(cospace_status_message(status));
  cospace_transfer t = B.jump(B.make(stack.top(), bare_stack::size, &bounce<B>), nullptr);
  return median_ns_per_op(plan, [&](std::uint64_t n) {
           for (std::uint64_t i = 0; i < n; ++i) t = B.jump(t.from, nullptr);
         }) / 2;
}

#if COSPACE_TOOL_USE_BOOST
namespace fc = boost::context::detail;
namespace bc = boost::context;

void fcontext_bounce(fc::transfer_t t) {
  for (;;) t = fc::jump_fcontext(t.fctx, nullptr);
}

double time_jump_fcontext(const timing_plan& plan) {
  bare_stack stack;
  fc::transfer_t t = fc::jump_fcontext(fc::make_fcontext(stack.top(), bare_stack::size, &fcontext_bounce), nullptr);
  return median_ns_per_op(plan, [&](std::uint64_t n) {
           for (std::uint64_t i = 0; i < n; ++i) t = fc::jump_fcontext(t.fctx, nullptr);
         }) / 2;
}

double time_boost_resume(const timing_plan& plan) {
  bc::fiber f{[](bc::fiber&& caller) {
    for (;;) caller = std::move(caller).resume();
    return std::move(caller);
  }};
  f = std::move(f).resume();
  return median_ns_per_op(plan, [&](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) f = std::move(f).resume();
  });
}

template <class Alloc>
double time_boost_create(const timing_plan& plan) {
  Alloc alloc;  // pooled: one pool for the whole measurement
  return median_ns_per_op(plan, [&](std::uint64_t n) {
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
double time_resume_yield(const timing_plan& plan, stack_kind kind, std::size_t depth) {
  fiber f([depth] { run_at_depth(depth, &yield_forever, nullptr); }, options_for(kind));
  f.resume();
  return median_ns_per_op(plan, [&](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) f.resume();
  });
  // Destroying the suspended fiber unwinds it.
}

double time_create(const timing_plan& plan, stack_kind kind) {
  const fiber_options options = options_for(kind);
  return median_ns_per_op(plan, [&](std::uint64_t n) {
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

// Rows for one cospace stack kind.
void add_fiber_rows(std::vector<timing_section>& s, const timing_plan& plan, stack_kind kind) {
  const std::string name = std::string("cospace_") + to_string(kind);
  section(s, "resume_yield")
      .rows.push_back(measured(name, "cospace::fiber, " + kind_label(kind) + ": resume() + this_fiber::yield()",
                               [&] { return time_resume_yield(plan, kind, 0); }));
  section(s, "create_run_destroy")
      .rows.push_back(measured(name, "cospace::fiber, " + kind_label(kind) + ": make, run an empty body, destroy",
                               [&] { return time_create(plan, kind); }));
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
  std::vector<timing_section> s = {
      {"switch", "Context switch, ns per one-way switch", "ns_per_switch", {}},
      {"resume_yield", "Fiber resume + yield, ns per round trip (two switches)", "ns_per_round_trip", {}},
      {"create_run_destroy", "Create + run to the end + destroy, ns per fiber", "ns_per_fiber", {}},
      {"sliced_switch_vs_depth", "Resume + yield of a fiber suspended at a depth, ns per round trip",
       "ns_per_round_trip", {}},
  };
  auto& sw = section(s, "switch").rows;
  sw.push_back(measured("cospace_asm", "cospace asm backend (hand-written switch)",
                        [&] { return time_backend<ctx::asm_backend>(plan); }));
  sw.push_back(measured("cospace_sjlj", "cospace sjlj backend (_setjmp/_longjmp)",
                        [&] { return time_backend<ctx::sjlj_backend>(plan); }));
  sw.push_back(measured("cospace_ucontext", "cospace ucontext backend (swapcontext, a system call)",
                        [&] { return time_backend<ctx::ucontext_backend>(plan); }));
#if COSPACE_TOOL_USE_BOOST
  sw.push_back(measured("boost_jump_fcontext", "Boost.Context jump_fcontext",
                        [&] { return time_jump_fcontext(plan); }));
#else
  sw.push_back(unavailable("boost_jump_fcontext", "Boost.Context jump_fcontext", boost_description()));
#endif

  for (const stack_kind kind : {stack_kind::region, stack_kind::fixed, stack_kind::sliced})
    add_fiber_rows(s, plan, kind);
#if COSPACE_TOOL_USE_BOOST
  section(s, "resume_yield")
      .rows.push_back(measured("boost_fiber", "boost::context::fiber resume() round trip (fixedsize_stack)",
                               [&] { return time_boost_resume(plan); }));
  auto& create = section(s, "create_run_destroy").rows;
  create.push_back(measured("boost_fixedsize", "boost::context::fiber on fixedsize_stack (malloc)",
                            [&] { return time_boost_create<bc::fixedsize_stack>(plan); }));
  create.push_back(measured("boost_pooled", "boost::context::fiber on pooled_fixedsize_stack",
                            [&] { return time_boost_create<bc::pooled_fixedsize_stack>(plan); }));
  create.push_back(measured("boost_protected", "boost::context::fiber on protected_fixedsize_stack (mmap + guard)",
                            [&] { return time_boost_create<bc::protected_fixedsize_stack>(plan); }));
#else
  section(s, "resume_yield").rows.push_back(unavailable("boost_fiber", "boost::context::fiber", boost_description()));
  section(s, "create_run_destroy")
      .rows.push_back(unavailable("boost_fixedsize", "boost::context::fiber", boost_description()));
#endif

  // A sliced fiber copies its stack out and back at every switch: the cost
  // grows with the depth. A region fiber at the same depth is the reference.
  const std::vector<std::size_t> depths =
      quick ? std::vector<std::size_t>{256, 4096, 65536} : std::vector<std::size_t>{256, 1024, 4096, 16384, 65536};
  auto& depth_rows = section(s, "sliced_switch_vs_depth").rows;
  for (const stack_kind kind : {stack_kind::sliced, stack_kind::region}) {
    for (const std::size_t depth : depths) {
      timing_row row = measured(std::string("cospace_") + to_string(kind) + "_depth_" + std::to_string(depth),
                                "cospace::fiber, " + kind_label(kind) + ", suspended " + std::to_string(depth) +
                                    " bytes deep",
                                [&] { return time_resume_yield(plan, kind, depth); });
      row.depth_bytes = depth;
      depth_rows.push_back(std::move(row));
    }
  }
  return s;
}

}  // namespace cospace::tool::bench
