// The fiber suite: every behaviour of cospace::fiber, run for each stack kind.
#include <cospace/fiber.hpp>
#include <cospace/slicing.hpp>
#include <cospace/space.hpp>

#include <gtest/gtest.h>

#include <cospace/context.h>

#include "../support/fiber_error_of.hpp"
#include "../support/near_guard.hpp"
#include "../support/no_core_dumps.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include "space/fault_handler.hpp"
#include "space/space_impl.hpp"

#include <array>
#include <cfenv>
#include <cstdint>
#include <exception>
#include <memory>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using cospace::fiber;
using cospace::fiber_error;
using cospace::fiber_options;
using cospace::forced_unwind;
using cospace::stack_kind;
namespace this_fiber = cospace::this_fiber;

// Each test runs once per stack kind and checks that no stack is leaked.
// Sliced fibers share stacks that the thread keeps for the next ones (and a
// copier region made once per thread): configure_slicing gives back the
// shared stacks no fiber uses, so the count compares like with like.
class Fiber : public ::testing::TestWithParam<stack_kind> {
 protected:
  void SetUp() override {
    if (GetParam() == stack_kind::sliced) {
      fiber warm_up([] {}, {.stack = stack_kind::sliced});  // makes the thread's copier
    }
    release_idle_shared_stacks();
    live_before_ = cospace::space::global().stats().live_regions;
  }
  void TearDown() override {
    release_idle_shared_stacks();
    EXPECT_EQ(cospace::space::global().stats().live_regions, live_before_) << "a fiber stack leaked";
  }
  static void release_idle_shared_stacks() { cospace::configure_slicing(cospace::slicing_configuration()); }
  fiber_options options(std::string_view name = {}) const {
    fiber_options o;
    o.stack = GetParam();
    o.name = name;
    return o;
  }
  std::size_t live_before_ = 0;
};

using cospace::test::error_of;

TEST_P(Fiber, RunsUntilEachYieldAndFinishes) {
  std::vector<int> trace;
  fiber f([&] {
    trace.push_back(1);
    this_fiber::yield();
    trace.push_back(2);
    this_fiber::yield();
    trace.push_back(3);
  }, options());
  EXPECT_TRUE(f);
  EXPECT_FALSE(f.done());
  for (int expected = 1; expected <= 3; ++expected) {
    f.resume();
    EXPECT_EQ(trace.back(), expected);
  }
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.kind(), GetParam());
}

TEST_P(Fiber, BadUseIsAFiberErrorNamingTheFiberAndTheMistake) {
  EXPECT_NE(error_of([] { fiber().resume(); }).find("empty fiber"), std::string::npos);
  EXPECT_NE(error_of([] { this_fiber::yield(); }).find("outside any fiber"), std::string::npos);
  fiber finished([] {}, options("quick"));
  finished.resume();
  const std::string after = error_of([&] { finished.resume(); });
  EXPECT_NE(after.find("fiber 'quick' (id "), std::string::npos) << after;
  EXPECT_NE(after.find("after it finished"), std::string::npos) << after;
  fiber* self = nullptr;
  std::string own;
  fiber selfish([&] { own = error_of([&] { self->resume(); }); }, options("selfish"));
  self = &selfish;
  selfish.resume();
  EXPECT_NE(own.find("'selfish'"), std::string::npos) << own;
  EXPECT_NE(own.find("resume itself"), std::string::npos) << own;
  // A nested fiber resuming its (running) parent.
  fiber* outer_handle = nullptr;
  std::string running;
  fiber outer([&] {
    fiber inner([&] { running = error_of([&] { outer_handle->resume(); }); }, options("inner"));
    inner.resume();
  }, options("outer"));
  outer_handle = &outer;
  outer.resume();
  EXPECT_NE(running.find("'outer'"), std::string::npos) << running;
  EXPECT_NE(running.find("while it is running"), std::string::npos) << running;
}

TEST_P(Fiber, ExceptionsEscapingTheBodyReachTheResumer) {
  fiber f([] {
    this_fiber::yield();
    throw std::runtime_error("from the fiber");
  }, options());
  f.resume();
  try {
    f.resume();
    ADD_FAILURE() << "nothing was thrown";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "from the fiber");
  }
  EXPECT_TRUE(f.done());
}

TEST_P(Fiber, ExceptionsCaughtInsideWorkAcrossYields) {
  int caught = 0;
  fiber f([&] {
    for (int i = 0; i < 10; ++i) {
      try {
        throw std::logic_error("inside " + std::to_string(i));
      } catch (const std::logic_error& e) {
        this_fiber::yield();  // suspended inside the catch block
        EXPECT_EQ(std::string(e.what()), "inside " + std::to_string(i));
        EXPECT_NE(std::current_exception(), nullptr);
        try {
          throw;  // rethrow after the yield
        } catch (const std::logic_error&) {
          ++caught;
        }
      }
    }
  }, options());
  while (!f.done()) {
    f.resume();
    EXPECT_EQ(std::current_exception(), nullptr) << "the fiber's caught exception leaked out";
    EXPECT_EQ(std::uncaught_exceptions(), 0);
  }
  EXPECT_EQ(caught, 10);
}

TEST_P(Fiber, ExceptionStateNeverLeaksBetweenFibers) {
  fiber a([] {
    try {
      throw 1;
    } catch (int) {
      for (;;) {
        EXPECT_NE(std::current_exception(), nullptr);
        this_fiber::yield();
      }
    }
  }, options("a"));
  fiber b([] {
    for (;;) {
      EXPECT_EQ(std::current_exception(), nullptr) << "fiber a's exception is visible in b";
      this_fiber::yield();
    }
  }, options("b"));
  for (int i = 0; i < 5; ++i) {
    a.resume();
    b.resume();
    try {
      throw std::runtime_error("outside");
    } catch (...) {
      a.resume();  // resumed from inside our own catch block
      EXPECT_NE(std::current_exception(), nullptr);
    }
    EXPECT_EQ(std::current_exception(), nullptr);
  }
}

struct yields_in_destructor {
  int* seen;
  ~yields_in_destructor() {
    *seen = std::uncaught_exceptions();
    this_fiber::yield();
  }
};

TEST_P(Fiber, UncaughtExceptionCountIsPerFiber) {
  int inside = -1;
  fiber f([&] {
    try {
      yields_in_destructor y{&inside};
      throw std::runtime_error("unwinding");
    } catch (const std::runtime_error&) {
    }
  }, options());
  f.resume();  // suspended in a destructor during unwinding
  EXPECT_EQ(inside, 1);
  EXPECT_EQ(std::uncaught_exceptions(), 0) << "the fiber's unwinding leaked into its resumer";
  f.resume();
  EXPECT_TRUE(f.done());
}

TEST_P(Fiber, ASuspendedFiberDestroyedInsideACatchBlockLeavesNoTrace) {
  {
    fiber f([] {
      try {
        throw std::runtime_error("held");
      } catch (...) {
        this_fiber::yield();
      }
    }, options());
    f.resume();
  }  // unwound here, while inside its catch block
  EXPECT_EQ(std::current_exception(), nullptr);
  EXPECT_EQ(std::uncaught_exceptions(), 0);
  try {
    throw std::runtime_error("after");
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "after");
  }
}

TEST_P(Fiber, DestroyingASuspendedFiberRunsEveryDestructorOnItsStack) {
  int destroyed = 0;
  struct counter {
    int* n;
    ~counter() { ++*n; }
  };
  {
    fiber f([&] {
      counter a{&destroyed};
      [&] {
        counter b{&destroyed};
        try {
          counter c{&destroyed};
          this_fiber::yield();
        } catch (const std::exception&) {
          ADD_FAILURE() << "forced_unwind must not be a std::exception";
        }
      }();
      ADD_FAILURE() << "the body ran on after being destroyed";
    }, options());
    f.resume();
    EXPECT_EQ(destroyed, 0);
  }
  EXPECT_EQ(destroyed, 3);
}

TEST_P(Fiber, ABodyMayCatchForcedUnwindIfItRethrows) {
  bool saw = false;
  {
    fiber f([&] {
      try {
        this_fiber::yield();
      } catch (const forced_unwind&) {
        saw = true;
        throw;
      }
    }, options());
    f.resume();
  }
  EXPECT_TRUE(saw);
}

TEST_P(Fiber, NeverStartedFibersAreDestroyedWithoutRunning) {
  bool ran = false;
  auto shared = std::make_shared<int>(1);
  {
    fiber f([&ran, shared] { ran = true; }, options());
    EXPECT_EQ(shared.use_count(), 2);
  }
  EXPECT_FALSE(ran);
  EXPECT_EQ(shared.use_count(), 1) << "the body was not destroyed";
}

TEST_P(Fiber, NestedFibersAndTheirIdentity) {
  std::vector<std::string> trace;
  fiber outer([&] {
    EXPECT_TRUE(this_fiber::active());
    EXPECT_EQ(this_fiber::name(), "outer");
    const auto outer_id = this_fiber::id();
    fiber inner([&] {
      EXPECT_EQ(this_fiber::name(), "inner");
      EXPECT_NE(this_fiber::id(), outer_id);
      trace.push_back("inner 1");
      this_fiber::yield();
      trace.push_back("inner 2");
    }, options("inner"));
    inner.resume();
    EXPECT_EQ(this_fiber::name(), "outer");
    trace.push_back("outer");
    this_fiber::yield();
    inner.resume();
    EXPECT_TRUE(inner.done());
  }, options("outer"));
  EXPECT_FALSE(this_fiber::active());
  EXPECT_EQ(this_fiber::id(), 0u);
  outer.resume();
  trace.push_back("main");
  outer.resume();
  EXPECT_EQ(trace, (std::vector<std::string>{"inner 1", "outer", "main", "inner 2"}));
  EXPECT_NE(outer.id(), 0u);
  EXPECT_EQ(outer.name(), "outer");
}

TEST_P(Fiber, MovedHandlesKeepTheFiber) {
  int steps = 0;
  fiber a([&] {
    ++steps;
    this_fiber::yield();
    ++steps;
  }, options());
  a.resume();
  fiber b = std::move(a);
  EXPECT_FALSE(a);
  b.resume();
  EXPECT_TRUE(b.done());
  EXPECT_EQ(steps, 2);
  fiber c;
  c = std::move(b);
  EXPECT_TRUE(c.done());
}

TEST_P(Fiber, MoveOnlyAndLargeCallables) {
  auto owned = std::make_unique<int>(41);
  int result = 0;
  fiber f([p = std::move(owned), &result] { result = *p + 1; }, options());
  f.resume();
  EXPECT_EQ(result, 42);
  std::array<char, 64 * 1024> big{};
  big[12345] = 7;
  fiber g([big, &result] { result = big[12345]; }, options());  // too big for the stack's top page
  g.resume();
  EXPECT_EQ(result, 7);
}

// The kernel's thread id, asked every time: std::this_thread::get_id() is
// pthread_self(), which the compiler may cache across a yield (it is declared
// const) — the very reason a fiber that migrates must not trust cached
// thread-local addresses.
[[gnu::noinline]] long kernel_thread_id() { return syscall(SYS_gettid); }

TEST_P(Fiber, ResumedFromAnotherThread) {
  std::vector<long> threads;
  fiber f([&] {
    threads.push_back(kernel_thread_id());
    this_fiber::yield();
    threads.push_back(kernel_thread_id());
  }, options());
  f.resume();
  if (GetParam() == stack_kind::sliced) {
    // A sliced fiber's stack is shared by its thread's fibers: it refuses to move.
    std::string refused;
    std::thread([&] { refused = error_of([&] { f.resume(); }); }).join();
    EXPECT_NE(refused.find("cannot move between threads"), std::string::npos) << refused;
    f.resume();  // still fine on its own thread
  } else {
    std::thread([&] { f.resume(); }).join();
  }
  ASSERT_EQ(threads.size(), 2u);
  if (GetParam() != stack_kind::sliced) {
    EXPECT_NE(threads[0], threads[1]);
  }
  EXPECT_TRUE(f.done());
}

TEST_P(Fiber, FloatingPointStateFollowsEachFiber) {
#ifdef COSPACE_SHARED_FP_CONTROL
  GTEST_SKIP() << "built with COSPACE_SHARED_FP_CONTROL: the control state belongs to the thread "
                  "(context_test checks that mode)";
#endif
  const int original = std::fegetround();
  fiber f([] {
    std::fesetround(FE_UPWARD);
    for (;;) {
      this_fiber::yield();
      EXPECT_EQ(std::fegetround(), FE_UPWARD);
    }
  }, options());
  std::fesetround(FE_DOWNWARD);
  for (int i = 0; i < 10; ++i) {
    f.resume();
    EXPECT_EQ(std::fegetround(), FE_DOWNWARD);
  }
  std::fesetround(original);
}

TEST_P(Fiber, StackIsAlignedInTheBody) {
  std::uintptr_t misalignment = 1;
  fiber f([&] {
    alignas(16) volatile char probe[16];
    probe[0] = 0;
    misalignment = reinterpret_cast<std::uintptr_t>(&probe[0]) % 16;
  }, options());
  f.resume();
  EXPECT_EQ(misalignment, 0u);
}

// ThreadSanitizer cannot follow sliced stacks (they are refused there: see
// tests/slice), so the TSan build runs the suite for the other two kinds.
#if defined(__SANITIZE_THREAD__)
const auto all_kinds = ::testing::Values(stack_kind::region, stack_kind::fixed);
#else
const auto all_kinds = ::testing::Values(stack_kind::region, stack_kind::sliced, stack_kind::fixed);
#endif
INSTANTIATE_TEST_SUITE_P(Kinds, Fiber, all_kinds,
                         [](const auto& param_info) { return std::string(cospace::to_string(param_info.param)); });

// ---- region-specific -----------------------------------------------------------

[[gnu::noinline]] std::size_t recurse(std::size_t bytes) {
  volatile char frame[1024];
  frame[0] = 1;
  return bytes <= sizeof frame ? frame[0] : recurse(bytes - sizeof frame) + frame[0];
}

TEST(FiberRegion, RecursesDeepWithNoStackSize) {
  fiber f([] { recurse(64 << 20); });
  f.resume();
  EXPECT_TRUE(f.done());
}

TEST(FiberRegion, TrimStackGivesPagesBack) {
  std::size_t deep = 0, trimmed = 0;
  fiber f([&] {
    recurse(8 << 20);
    deep = cospace::space::global().stats().bytes_released;
    this_fiber::trim_stack();
    trimmed = cospace::space::global().stats().bytes_released;
  });
  f.resume();
  EXPECT_GE(trimmed - deep, std::size_t{7} << 20);
}

// Making, running and destroying a fiber from a stack whose guard zone is
// closer than the space's critical sections may reach: the stack is grown
// (prefaulted) before the space's lock is taken, not inside it.
TEST(FiberRegion, MakesRunsAndDestroysAFiberFromJustAboveItsGuardZone) {
  fiber warm([] {});  // leaves a parked region: the warm path
  warm.resume();
  std::uint32_t before = 0, after = 0;
  bool ran = false;
  fiber f([&] {
    const cospace::detail::region& r = *cospace::detail::current_region();
    cospace::test::near_guard(r, 8 * 1024, [&] {
      before = r.growths;
      fiber inner([&] { ran = true; });
      inner.resume();
      EXPECT_TRUE(inner.done());
      after = r.growths;
    });
  });
  f.resume();
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(ran);
  EXPECT_GT(after, before) << "the stack did not grow before the space's lock was taken";
}

TEST(FiberRegion, ArenaServesAllocationsFromTheFibersRegion) {
  std::uintptr_t address = 0;
  fiber f([&] {
    std::pmr::vector<int> v(this_fiber::arena());
    v.resize(1000, 7);
    address = reinterpret_cast<std::uintptr_t>(v.data());
    EXPECT_NE(this_fiber::arena(), std::pmr::new_delete_resource());
  });
  f.resume();
  auto& s = cospace::space::global().impl();
  EXPECT_TRUE(s.contains(address)) << "arena memory should come from the space";
  EXPECT_EQ(this_fiber::arena(), std::pmr::new_delete_resource()) << "outside a fiber: the heap";
}

TEST(FiberOptions, RefusesOptionsThatDoNotApply) {
  EXPECT_NE(error_of([] { fiber([] {}, {.stack = stack_kind::region, .fixed_size = 1 << 20}); })
                .find("fixed_size"),
            std::string::npos);
  EXPECT_NE(error_of([] { fiber([] {}, {.stack = stack_kind::fixed, .max_stack = 1 << 20}); })
                .find("max_stack"),
            std::string::npos);
  EXPECT_NE(error_of([] { fiber([] {}, {.name = std::string(300, 'x')}); }).find("name"),
            std::string::npos);
  EXPECT_NE(error_of([] { fiber([] {}, {.stack = stack_kind::fixed, .fixed_size = 100}); })
                .find("fixed_size"),
            std::string::npos);
  EXPECT_NE(error_of([] { fiber([] {}, {.stack = stack_kind::fixed, .space = &cospace::space::global()}); })
                .find("space"),
            std::string::npos);
  EXPECT_NE(error_of([] { fiber([] {}, {.stack = stack_kind::sliced, .space = &cospace::space::global()}); })
                .find("space"),
            std::string::npos);
  EXPECT_NE(error_of([] { this_fiber::trim_stack(); }).find("outside any fiber"), std::string::npos);
}

TEST(FiberOptions, ACallableWhoseCopyThrowsLeavesNothingBehind) {
  struct throws_on_copy {
    throws_on_copy() = default;
    throws_on_copy(const throws_on_copy&) { throw std::runtime_error("no copies"); }
    void operator()() const {}
  };
  const std::size_t before = cospace::space::global().stats().live_regions;
  const throws_on_copy body;
  EXPECT_THROW(fiber f(body), std::runtime_error);
  EXPECT_EQ(cospace::space::global().stats().live_regions, before);
}

// ---- fatal misuse, in subprocesses ----------------------------------------------------

TEST(FiberDeathTest, DestroyingARunningFiberIsReportedAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        auto* f = new fiber();
        *f = fiber([&] { f->reset(); }, {.name = "doomed"});
        f->resume();
      },
      "fiber 'doomed' \\(id [0-9]+\\) was destroyed while it is running");
}

TEST(FiberDeathTest, SwallowingForcedUnwindIsReportedAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        fiber f([] {
          for (;;) {
            try {
              this_fiber::yield();
            } catch (...) {
            }
          }
        }, {.name = "stubborn"});
        f.resume();
      },
      "fiber 'stubborn' \\(id [0-9]+\\) caught cospace::forced_unwind without rethrowing");
}

TEST(FiberDeathTest, OverflowNamesTheFiber) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        fiber f([] { recurse(std::size_t{64} << 20); }, {.name = "bottomless", .max_stack = 1 << 20});
        f.resume();
      },
      "stack overflow in fiber 'bottomless'");
}

}  // namespace

// ---- the C API's exception boundary ------------------------------------------------------

#include <cospace/cospace.h>

namespace {

TEST(FiberCApi, AnExceptionEscapingTheFunctionBecomesAStatus) {
  cospace_fiber* f = nullptr;
  ASSERT_EQ(cospace_fiber_create(&f, [](void*) { throw std::runtime_error("thrown in C++ under C"); },
                                 nullptr, nullptr),
            COSPACE_OK);
  EXPECT_EQ(cospace_fiber_resume(f), COSPACE_ERROR_FIBER_THREW);
  EXPECT_STREQ(cospace_last_error_message(), "thrown in C++ under C");
  EXPECT_TRUE(cospace_fiber_done(f));
  EXPECT_EQ(cospace_fiber_destroy(f), COSPACE_OK);
}

}  // namespace

// ---- fiber-local storage --------------------------------------------------------------------

#include <cospace/fiber_local.hpp>

namespace {

struct tracked {
  static inline int alive = 0;
  int value = 0;
  tracked() { ++alive; }
  ~tracked() { --alive; }
};

TEST(FiberLocal, EachFiberHasItsOwnInstanceDestroyedWhenItEnds) {
  static cospace::fiber_local<tracked> local;
  local->value = 100;  // the thread's own instance
  std::vector<int> seen;
  fiber a([&] {
    local->value += 1;
    this_fiber::yield();
    seen.push_back(local->value);
  });
  fiber b([&] {
    local->value += 2;
    this_fiber::yield();
    seen.push_back(local->value);
  });
  a.resume();
  b.resume();
  EXPECT_EQ(tracked::alive, 3);
  a.resume();
  b.resume();
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  EXPECT_EQ(local->value, 100) << "the thread's instance is untouched";
  EXPECT_EQ(tracked::alive, 1) << "each fiber's instance ends with it";
  {
    fiber c([&] {
      local->value = 5;
      this_fiber::yield();
    });
    c.resume();
    EXPECT_EQ(tracked::alive, 2);
  }  // destroyed while suspended: unwound, and its instance destroyed
  EXPECT_EQ(tracked::alive, 1);
}

}  // namespace

// ---- symmetric transfer ------------------------------------------------------------------------

namespace {

// The sjlj backend can only enter a fresh stack from above it, which
// switch_to from another fiber's stack cannot promise: it refuses instead.
bool fresh_targets_supported() { return std::string(cospace_context_backend()) != "sjlj"; }

TEST_P(Fiber, SwitchToRunsTheTargetInPlaceAndReturnsToTheOriginalResumer) {
  if (!fresh_targets_supported()) GTEST_SKIP() << "sjlj: switch_to cannot start a fresh fiber";
  std::vector<std::string> trace;
  fiber b([&] {
    trace.push_back("b1");
    this_fiber::yield();  // back to main, not to a
    trace.push_back("b2");
  }, options("b"));
  fiber a([&] {
    trace.push_back("a1");
    this_fiber::switch_to(b);  // b runs now; a is suspended here
    trace.push_back("a2");
  }, options("a"));
  a.resume();
  EXPECT_EQ(trace, (std::vector<std::string>{"a1", "b1"}));
  EXPECT_FALSE(a.done());
  EXPECT_FALSE(b.done());
  b.resume();
  a.resume();
  EXPECT_EQ(trace, (std::vector<std::string>{"a1", "b1", "b2", "a2"}));
  EXPECT_TRUE(a.done());
  EXPECT_TRUE(b.done());
}

TEST_P(Fiber, SwitchToChainsAndCarriesExceptionsToTheResumer) {
  // Each fiber is started (and suspended) first, so this runs on every backend.
  fiber c([] {
    this_fiber::yield();
    throw std::runtime_error("from c");
  }, options("c"));
  fiber b([&] {
    this_fiber::yield();
    this_fiber::switch_to(c);
  }, options("b"));
  fiber a([&] {
    this_fiber::yield();
    this_fiber::switch_to(b);
  }, options("a"));
  c.resume();
  b.resume();
  a.resume();
  try {
    a.resume();  // a -> b -> c, which throws: the exception reaches main
    ADD_FAILURE() << "nothing was thrown";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "from c");
  }
  EXPECT_TRUE(c.done());
  EXPECT_FALSE(a.done());
  // a and b are suspended in switch_to; destroying them unwinds them.
}

TEST_P(Fiber, SwitchToKeepsEachFibersExceptionState) {
  fiber b([&] {
    this_fiber::yield();
    EXPECT_EQ(std::current_exception(), nullptr);
    this_fiber::yield();
  }, options("b"));
  b.resume();
  fiber a([&] {
    try {
      throw 7;
    } catch (int) {
      this_fiber::switch_to(b);
      EXPECT_NE(std::current_exception(), nullptr);
    }
  }, options("a"));
  a.resume();
  EXPECT_EQ(std::current_exception(), nullptr);
  a.resume();
  EXPECT_TRUE(a.done());
}

TEST_P(Fiber, SwitchToMisuseIsAFiberError) {
  fiber none;
  EXPECT_NE(error_of([&] { this_fiber::switch_to(none); }).find("outside any fiber"), std::string::npos);
  fiber* self = nullptr;
  std::string to_self, to_empty, to_done;
  fiber finished([] {}, options("finished"));
  finished.resume();
  fiber f([&] {
    to_self = error_of([&] { this_fiber::switch_to(*self); });
    to_empty = error_of([&] { this_fiber::switch_to(none); });
    to_done = error_of([&] { this_fiber::switch_to(finished); });
  }, options("f"));
  self = &f;
  f.resume();
  EXPECT_NE(to_self.find("switch_to itself"), std::string::npos) << to_self;
  EXPECT_NE(to_empty.find("empty fiber"), std::string::npos) << to_empty;
  EXPECT_NE(to_done.find("after it finished"), std::string::npos) << to_done;
}

TEST_P(Fiber, SwitchToAFreshFiberOnSjljIsRefusedNotCrashed) {
  if (fresh_targets_supported()) GTEST_SKIP() << "only the sjlj backend refuses";
  fiber fresh([] {}, options("fresh"));
  std::string refused;
  fiber f([&] { refused = error_of([&] { this_fiber::switch_to(fresh); }); }, options("f"));
  f.resume();
  // Refused when its stack is above f's; started (and so finished) when below.
  EXPECT_TRUE(refused.find("sjlj") != std::string::npos || fresh.done()) << refused;
}

}  // namespace
