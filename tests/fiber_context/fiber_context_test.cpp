// The fiber_context suite: the semantics of P0876 / Boost.Context's fiber on
// cospace stacks, run for each stack kind; every test checks that no stack
// leaked. Suite names start with fiber_context so that `ctest -R fiber_context`
// selects exactly these.
#include <cospace/fiber_context.hpp>
#include <cospace/space.hpp>

#include <gtest/gtest.h>

#include "../support/fiber_error_of.hpp"
#include "../support/no_core_dumps.hpp"

#include <array>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using cospace::fiber_context;
using cospace::fiber_error;
using cospace::fiber_options;
using cospace::forced_unwind;
using cospace::stack_kind;

// The sjlj backend can start a context only from a stack above it.
bool any_start_order() { return std::string(cospace_context_backend()) != "sjlj"; }

class fiber_context_kinds : public ::testing::TestWithParam<stack_kind> {
 protected:
  void SetUp() override { live_before_ = cospace::space::global().stats().live_regions; }
  void TearDown() override {
    EXPECT_EQ(cospace::space::global().stats().live_regions, live_before_) << "a stack leaked";
  }
  fiber_options options(std::string_view name = {}) const {
    fiber_options o;
    o.stack = GetParam();
    o.name = name;
    return o;
  }
  template <class F>
  fiber_context make(F&& entry, std::string_view name = {}) const {
    return fiber_context(std::forward<F>(entry), options(name));
  }
  // On sjlj a context must start from a stack above its own: region stacks
  // made inside a context are carved below it, pooled fixed stacks need not be.
  bool skip_nested_start() const { return !any_start_order() && GetParam() == stack_kind::fixed; }
  std::size_t live_before_ = 0;
};

constexpr const char* nested_start_reason = "sjlj: a pooled fixed stack need not lie below the context that starts it";

using cospace::test::error_of;

TEST_P(fiber_context_kinds, ResumeReturnsTheContextThatResumedUs) {
  std::vector<int> trace;
  fiber_context f = make([&](fiber_context&& main) {
    trace.push_back(1);
    main = std::move(main).resume();
    trace.push_back(3);
    main = std::move(main).resume();
    trace.push_back(5);
    return std::move(main);
  });
  EXPECT_TRUE(f);
  f = std::move(f).resume();
  trace.push_back(2);
  EXPECT_TRUE(f);
  f = std::move(f).resume();
  trace.push_back(4);
  f = std::move(f).resume();  // it ends by returning main: the handle comes back empty
  EXPECT_FALSE(f);
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(trace, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST_P(fiber_context_kinds, ManyRoundTripsPassValuesBothWays) {
  int value = 0;
  fiber_context f = make([&](fiber_context&& main) {
    for (;;) {
      value *= 2;
      main = std::move(main).resume();
    }
    return std::move(main);
  });
  long long sum = 0;
  for (int i = 1; i <= 10000; ++i) {
    value = i;
    f = std::move(f).resume();
    sum += value;
  }
  EXPECT_EQ(sum, 2LL * 10000 * 10001 / 2);
}  // f is destroyed suspended: unwound

TEST_P(fiber_context_kinds, EntryReturningAnotherContextResumesIt) {
  if (skip_nested_start()) GTEST_SKIP() << nested_start_reason;
  // a ends by returning b's handle: b continues, its resume() returning empty.
  std::vector<std::string> trace;
  fiber_context a;  // made after b: on sjlj a context must start from a stack above its own
  fiber_context b = make([&](fiber_context&& main) {
    trace.push_back("b starts");
    fiber_context from_a = std::move(a).resume();
    trace.push_back(from_a ? "b: a left a handle" : "b: a ended");
    return std::move(main);
  });
  a = make([&](fiber_context&& from_b) {
    trace.push_back("a");
    return std::move(from_b);
  });
  b = std::move(b).resume();
  EXPECT_FALSE(b);
  EXPECT_EQ(trace, (std::vector<std::string>{"b starts", "a", "b: a ended"}));
}

TEST_P(fiber_context_kinds, EntryReturningAContextThatNeverRanStartsIt) {
  if (skip_nested_start()) GTEST_SKIP() << nested_start_reason;
  fiber_context main_handle;
  std::vector<std::string> trace;
  fiber_context a = make([&](fiber_context&& main) {
    main_handle = std::move(main);
    trace.push_back("a");
    fiber_context second = make([&](fiber_context&& from) {
      trace.push_back(from ? "b: from a context" : "b: entered by an ending context");
      return std::move(main_handle);
    });
    return second;  // a ends; b starts
  });
  a = std::move(a).resume();
  EXPECT_FALSE(a);
  EXPECT_EQ(trace, (std::vector<std::string>{"a", "b: entered by an ending context"}));
}

struct worker {
  int calls = 0;
  fiber_context run(fiber_context&& caller, int step) {
    for (;;) {
      calls += step;
      caller = std::move(caller).resume();
    }
  }
  fiber_context once(fiber_context&& caller) {
    ++calls;
    return std::move(caller);
  }
};

TEST_P(fiber_context_kinds, StdBindAndMemberFunctions) {
  worker w;
  fiber_context f(std::bind(&worker::run, &w, std::placeholders::_1, 10), options());
  f = std::move(f).resume();
  f = std::move(f).resume();
  EXPECT_EQ(w.calls, 20);
  fiber_context g(std::bind_front(&worker::once, &w), options());
  g = std::move(g).resume();
  EXPECT_FALSE(g);
  EXPECT_EQ(w.calls, 21);
}

TEST_P(fiber_context_kinds, MoveOnlyAndLargeCallables) {
  auto owned = std::make_unique<int>(41);
  fiber_context f = make([p = std::move(owned)](fiber_context&& main) {
    ++*p;
    EXPECT_EQ(*p, 42);
    return std::move(main);
  });
  f = std::move(f).resume();
  EXPECT_FALSE(f);
  std::array<char, 20000> big{};  // over 8 KiB: the entry goes to the heap
  big[19999] = 7;
  int seen = 0;
  fiber_context g = make([big, &seen](fiber_context&& main) {
    seen = big[19999];
    return std::move(main);
  });
  g = std::move(g).resume();
  EXPECT_EQ(seen, 7);
}

TEST_P(fiber_context_kinds, FloatingPointValuesAndControlFollowEachContext) {
  const int original = std::fegetround();
  double inside = 0;
  fiber_context f = make([&](fiber_context&& main) {
    std::fesetround(FE_UPWARD);
    volatile double x = 1.0;
    for (;;) {
      const double before = x * 1.5;
      main = std::move(main).resume();
#ifndef COSPACE_SHARED_FP_CONTROL  // that mode leaves the control state to the thread
      EXPECT_EQ(std::fegetround(), FE_UPWARD);
#endif
      inside = before + std::sqrt(x);
    }
    return std::move(main);
  });
  std::fesetround(FE_DOWNWARD);
  volatile double y = 2.0;
  for (int i = 0; i < 10; ++i) {
    const double kept = y * 3.0;
    f = std::move(f).resume();
#ifndef COSPACE_SHARED_FP_CONTROL
    EXPECT_EQ(std::fegetround(), FE_DOWNWARD);
#endif
    EXPECT_EQ(kept, 6.0);
  }
  EXPECT_EQ(inside, 2.5);
  std::fesetround(original);
}

TEST_P(fiber_context_kinds, SscanfAndSnprintfWithFloatingPointOnTheFiberStack) {
  std::string printed;
  double scanned = 0;
  fiber_context f = make([&](fiber_context&& main) {
    char text[64];
    std::snprintf(text, sizeof text, "%.3f %e", 3.14159, 2.5e-7);
    printed = text;
    double a = 0, b = 0;
    if (std::sscanf(text, "%lf %lf", &a, &b) == 2) scanned = a + b * 1e7;
    return std::move(main);
  });
  f = std::move(f).resume();
  EXPECT_EQ(printed, "3.142 2.500000e-07");
  EXPECT_DOUBLE_EQ(scanned, 3.142 + 2.5);
}

TEST_P(fiber_context_kinds, NestedContexts) {
  if (skip_nested_start()) GTEST_SKIP() << nested_start_reason;
  std::vector<std::string> trace;
  fiber_context outer = make([&](fiber_context&& main) {
    fiber_context inner = make([&](fiber_context&& from_outer) {
      trace.push_back("inner 1");
      from_outer = std::move(from_outer).resume();
      trace.push_back("inner 2");
      return std::move(from_outer);
    });
    inner = std::move(inner).resume();
    trace.push_back("outer");
    main = std::move(main).resume();
    inner = std::move(inner).resume();
    EXPECT_FALSE(inner);
    return std::move(main);
  });
  outer = std::move(outer).resume();
  trace.push_back("main");
  outer = std::move(outer).resume();
  EXPECT_FALSE(outer);
  EXPECT_EQ(trace, (std::vector<std::string>{"inner 1", "outer", "main", "inner 2"}));
}

TEST_P(fiber_context_kinds, ExceptionsThrownAndCaughtInsideAcrossSwitches) {
  std::string caught;
  fiber_context f = make([&](fiber_context&& main) {
    try {
      throw std::runtime_error("inside");
    } catch (const std::exception& e) {
      main = std::move(main).resume();  // suspended inside the catch block
      EXPECT_NE(std::current_exception(), nullptr);
      caught = e.what();
    }
    EXPECT_EQ(std::current_exception(), nullptr);
    return std::move(main);
  });
  try {
    throw std::logic_error("outside");
  } catch (const std::logic_error&) {
    f = std::move(f).resume();
    try {
      std::rethrow_exception(std::current_exception());
    } catch (const std::logic_error& e) {
      EXPECT_STREQ(e.what(), "outside");  // ours, not the context's
    }
  }
  EXPECT_EQ(std::current_exception(), nullptr);
  f = std::move(f).resume();
  EXPECT_EQ(caught, "inside");
}

TEST_P(fiber_context_kinds, UncaughtExceptionCountIsPerContext) {
  int inside = -1;
  struct probe {
    fiber_context* f;
    ~probe() { *f = std::move(*f).resume(); }  // switches while an exception is in flight here
  };
  fiber_context f = make([&](fiber_context&& main) {
    inside = std::uncaught_exceptions();
    return std::move(main);
  });
  try {
    probe p{&f};
    throw 1;
  } catch (int) {
  }
  EXPECT_EQ(inside, 0);
}

TEST_P(fiber_context_kinds, ResumeWithRunsOnTopAndItsResultIsWhatThePendingResumeReturns) {
  std::vector<std::string> trace;
  fiber_context f = make([&](fiber_context&& main) {
    main = std::move(main).resume();
    trace.push_back(main ? "f: got a context" : "f: got empty");
    return std::move(main);
  });
  f = std::move(f).resume();
  int on_top_ran = 0;
  f = std::move(f).resume_with([&](fiber_context&& main) {
    ++on_top_ran;
    trace.push_back("on top");
    return std::move(main);
  });
  EXPECT_FALSE(f);
  EXPECT_EQ(on_top_ran, 1);
  EXPECT_EQ(trace, (std::vector<std::string>{"on top", "f: got a context"}));
}

TEST_P(fiber_context_kinds, ResumeWithOnAFreshContextFeedsItsEntry) {
  bool entry_got = false;
  fiber_context f = make([&](fiber_context&& main) {
    entry_got = static_cast<bool>(main);
    return std::move(main);
  });
  int ran = 0;
  f = std::move(f).resume_with([&](fiber_context&& main) {
    ++ran;
    return std::move(main);
  });
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(entry_got);
  EXPECT_FALSE(f);
}

TEST_P(fiber_context_kinds, AnExceptionFromResumeWithSurfacesInThePendingResume) {
  std::string seen;
  // The function on top takes the handle of main and throws: the context
  // catches at its pending resume() and ends by returning that handle.
  fiber_context back;
  fiber_context g = make([&](fiber_context&& main) {
    try {
      main = std::move(main).resume();
    } catch (const std::runtime_error& e) {
      seen = e.what();
    }
    EXPECT_EQ(std::current_exception(), nullptr);
    return std::move(back);
  });
  g = std::move(g).resume();
  g = std::move(g).resume_with([&](fiber_context&& main) -> fiber_context {
    back = std::move(main);
    throw std::runtime_error("from on top");
  });
  EXPECT_FALSE(g);
  EXPECT_EQ(seen, "from on top");
}

TEST_P(fiber_context_kinds, ResumeWithRunsWithTheResumedContextsExceptionState) {
  int uncaught_on_top = -1;
  bool exception_on_top = true;
  fiber_context f = make([&](fiber_context&& main) {
    main = std::move(main).resume();
    return std::move(main);
  });
  f = std::move(f).resume();
  try {
    throw std::runtime_error("main's");
  } catch (const std::exception&) {
    f = std::move(f).resume_with([&](fiber_context&& main) {
      uncaught_on_top = std::uncaught_exceptions();
      exception_on_top = std::current_exception() != nullptr;
      return std::move(main);
    });
    EXPECT_NE(std::current_exception(), nullptr);
  }
  EXPECT_EQ(uncaught_on_top, 0);
  EXPECT_FALSE(exception_on_top);
}

TEST_P(fiber_context_kinds, DestroyingASuspendedContextRunsEveryDestructorOnItsStack) {
  int destroyed = 0;
  struct counter {
    int* n;
    ~counter() { ++*n; }
  };
  {
    fiber_context f = make([&](fiber_context&& main) {
      counter a{&destroyed};
      [&] {
        counter b{&destroyed};
        try {
          counter c{&destroyed};
          main = std::move(main).resume();
        } catch (const std::exception&) {
          ADD_FAILURE() << "forced_unwind must not be a std::exception";
        }
      }();
      ADD_FAILURE() << "the entry ran on after being destroyed";
      return std::move(main);
    });
    f = std::move(f).resume();
    EXPECT_EQ(destroyed, 0);
  }
  EXPECT_EQ(destroyed, 3);
}

TEST_P(fiber_context_kinds, AnEntryMayCatchForcedUnwindIfItRethrows) {
  bool saw = false;
  {
    fiber_context f = make([&](fiber_context&& main) {
      try {
        main = std::move(main).resume();
      } catch (const forced_unwind&) {
        saw = true;
        throw;
      }
      return std::move(main);
    });
    f = std::move(f).resume();
  }
  EXPECT_TRUE(saw);
}

TEST_P(fiber_context_kinds, DestroyingOneInsideACatchBlockLeavesNoTrace) {
  {
    fiber_context f = make([&](fiber_context&& main) {
      try {
        throw std::runtime_error("held");
      } catch (...) {
        main = std::move(main).resume();
      }
      return std::move(main);
    });
    f = std::move(f).resume();
  }
  EXPECT_EQ(std::current_exception(), nullptr);
  EXPECT_EQ(std::uncaught_exceptions(), 0);
}

TEST_P(fiber_context_kinds, UnwindingAContextUnwindsTheContextsItHolds) {
  if (skip_nested_start()) GTEST_SKIP() << nested_start_reason;
  std::vector<std::string> trace;
  struct note {
    std::vector<std::string>* t;
    const char* what;
    ~note() { t->push_back(what); }
  };
  {
    fiber_context outer = make([&](fiber_context&& main) {
      note n{&trace, "outer unwound"};
      fiber_context inner = make([&](fiber_context&& from_outer) {
        note m{&trace, "inner unwound"};
        from_outer = std::move(from_outer).resume();
        return std::move(from_outer);
      });
      inner = std::move(inner).resume();
      main = std::move(main).resume();
      return std::move(main);
    });
    outer = std::move(outer).resume();
  }
  EXPECT_EQ(trace, (std::vector<std::string>{"inner unwound", "outer unwound"}));
}

TEST_P(fiber_context_kinds, NeverStartedContextsAreDestroyedWithoutRunning) {
  bool ran = false;
  auto shared = std::make_shared<int>(1);
  {
    fiber_context f = make([&ran, shared](fiber_context&& main) {
      ran = true;
      return std::move(main);
    });
    EXPECT_EQ(shared.use_count(), 2);
  }
  EXPECT_FALSE(ran);
  EXPECT_EQ(shared.use_count(), 1) << "the entry was not destroyed";
}

TEST_P(fiber_context_kinds, EmptyBoolCanResumeSwapAndMoves) {
  fiber_context none;
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none);
  EXPECT_FALSE(none.can_resume());
  fiber_context f = make([](fiber_context&& main) { return std::move(main); });
  EXPECT_FALSE(f.empty());
  EXPECT_TRUE(f);
  EXPECT_TRUE(f.can_resume());
  f.swap(none);
  EXPECT_TRUE(f.empty());
  EXPECT_TRUE(none.can_resume());
  swap(f, none);
  EXPECT_TRUE(f.can_resume());
  fiber_context moved(std::move(f));
  EXPECT_TRUE(f.empty());
  EXPECT_TRUE(moved);
  fiber_context assigned;
  assigned = std::move(moved);
  EXPECT_TRUE(moved.empty());
  assigned = std::move(assigned);  // self-move keeps it
  EXPECT_TRUE(assigned);
  assigned = std::move(assigned).resume();
  EXPECT_TRUE(assigned.empty());
}

TEST_P(fiber_context_kinds, BadInputIsAFiberErrorAndLeavesTheHandleAsItWas) {
  EXPECT_NE(error_of([] { fiber_context().resume(); }).find("empty fiber_context"), std::string::npos);
  EXPECT_NE(error_of([] { fiber_context().resume_with([](fiber_context&& c) { return std::move(c); }); })
                .find("empty fiber_context"),
            std::string::npos);
  // Suspended on this thread: another thread may neither resume it nor see it resumable.
  fiber_context f = make([](fiber_context&& main) {
    main = std::move(main).resume();
    return std::move(main);
  });
  f = std::move(f).resume();
  std::string there;
  bool resumable_there = true;
  std::thread([&] {
    resumable_there = f.can_resume();
    there = error_of([&] { f = std::move(f).resume(); });
  }).join();
  EXPECT_FALSE(resumable_there);
  EXPECT_NE(there.find("another thread"), std::string::npos) << there;
  ASSERT_TRUE(f) << "a refused resume must leave the handle";
  f = std::move(f).resume();
  EXPECT_FALSE(f);
}

TEST_P(fiber_context_kinds, AContextThatNeverRanMayStartOnAnotherThread) {
  if (!any_start_order()) GTEST_SKIP() << "sjlj: a thread's stack may lie below the context's";
  int ran_on = 0;
  fiber_context f = make([&](fiber_context&& starter) {
    ran_on = 1;
    return std::move(starter);
  });
  std::thread([&] {
    EXPECT_TRUE(f.can_resume());
    f = std::move(f).resume();
  }).join();
  EXPECT_EQ(ran_on, 1);
  EXPECT_FALSE(f);
}

TEST_P(fiber_context_kinds, OnSjljStartingAContextAboveTheStarterIsRefusedNotCrashed) {
  if (any_start_order()) GTEST_SKIP() << "only the sjlj backend refuses";
  if (GetParam() != stack_kind::region) GTEST_SKIP() << "region placement decides which stack is above";
  fiber_context above = make([](fiber_context&& c) { return std::move(c); });  // made first: higher
  std::string refused;
  fiber_context below = make([&](fiber_context&& main) {
    refused = error_of([&] { above = std::move(above).resume(); });
    return std::move(main);
  });
  below = std::move(below).resume();
  EXPECT_NE(refused.find("sjlj"), std::string::npos) << refused;
  EXPECT_TRUE(above) << "a refused resume must leave the handle";
}

TEST_P(fiber_context_kinds, StackIsAlignedInTheEntry) {
  std::uintptr_t misalignment = 1;
  fiber_context f = make([&](fiber_context&& main) {
    alignas(16) volatile char probe[16];
    probe[0] = 0;
    misalignment = reinterpret_cast<std::uintptr_t>(&probe[0]) % 16;
    return std::move(main);
  });
  f = std::move(f).resume();
  EXPECT_EQ(misalignment, 0u);
}

INSTANTIATE_TEST_SUITE_P(Kinds, fiber_context_kinds, ::testing::Values(stack_kind::region, stack_kind::fixed),
                         [](const auto& param_info) { return std::string(cospace::to_string(param_info.param)); });

// ---- region stacks, options -------------------------------------------------------

[[gnu::noinline]] std::size_t recurse(std::size_t bytes) {
  volatile char frame[1024];
  frame[0] = 1;
  return bytes <= sizeof frame ? frame[0] : recurse(bytes - sizeof frame) + frame[0];
}

TEST(fiber_context_region, RecursesDeepWithNoStackSize) {
  std::size_t result = 0;
  fiber_context f([&](fiber_context&& main) {
    result = recurse(std::size_t{64} << 20);
    return std::move(main);
  });
  f = std::move(f).resume();
  EXPECT_GT(result, 0u);
  EXPECT_FALSE(f);
}

// The fault handler must see the running context's region after every kind
// of switch, or growth past the initial zone is taken for a foreign fault.
TEST(fiber_context_region, StacksGrowAfterEveryKindOfSwitch) {
  std::size_t depth = 0;
  fiber_context a([&](fiber_context&& main) {
    fiber_context b([&](fiber_context&& from_a) {
      depth += recurse(std::size_t{8} << 20);  // b grows, started by a
      from_a = std::move(from_a).resume();
      depth += recurse(std::size_t{16} << 20);  // b grows, back through resume_with
      return std::move(from_a);
    });
    b = std::move(b).resume();
    depth += recurse(std::size_t{8} << 20);  // a grows, back from b
    b = std::move(b).resume_with([&](fiber_context&& c) {
      depth += recurse(std::size_t{4} << 20);  // on top of b, on b's stack
      return std::move(c);
    });
    depth += recurse(std::size_t{12} << 20);  // a grows, back from an ending b
    main = std::move(main).resume();
    depth += recurse(std::size_t{20} << 20);  // a grows, resumed by main
    return std::move(main);
  });
  a = std::move(a).resume();
  depth += recurse(std::size_t{1} << 20);  // main's own stack, region cleared
  a = std::move(a).resume();
  EXPECT_FALSE(a);
  EXPECT_GT(depth, 0u);
}

TEST(fiber_context_options, RefusesOptionsThatDoNotApply) {
  auto entry = [](fiber_context&& c) { return std::move(c); };
  EXPECT_NE(error_of([&] { fiber_context(entry, {.name = std::string(300, 'x')}); }).find("name"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fiber_context(entry, {.stack = stack_kind::region, .fixed_size = 4096}); })
                .find("fixed_size"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fiber_context(entry, {.stack = stack_kind::fixed, .max_stack = 1 << 20}); })
                .find("max_stack"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              fiber_context(entry, {.stack = stack_kind::fixed, .space = &cospace::space::global()});
            }).find("space"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fiber_context(entry, {.stack = static_cast<stack_kind>(42)}); }).find("stack_kind"),
            std::string::npos);
}

TEST(fiber_context_options, SlicedStacksAreRefusedCleanlyForNow) {
  const std::size_t before = cospace::space::global().stats().live_regions;
  const std::string error =
      error_of([] { fiber_context([](fiber_context&& c) { return std::move(c); }, {.stack = stack_kind::sliced}); });
  EXPECT_NE(error.find("sliced"), std::string::npos) << error;
  EXPECT_EQ(cospace::space::global().stats().live_regions, before);
}

TEST(fiber_context_options, AnEntryWhoseCopyThrowsLeavesNothingBehind) {
  struct throws_on_copy {
    throws_on_copy() = default;
    throws_on_copy(const throws_on_copy&) { throw std::runtime_error("no copies"); }
    fiber_context operator()(fiber_context&& c) const { return std::move(c); }
  };
  const std::size_t before = cospace::space::global().stats().live_regions;
  const throws_on_copy entry;
  EXPECT_THROW(fiber_context f(entry), std::runtime_error);
  EXPECT_EQ(cospace::space::global().stats().live_regions, before);
}

TEST(fiber_context_options, AContextInASpaceOfItsOwn) {
  cospace::space own({.reservation = std::size_t{1} << 30});
  fiber_context f([](fiber_context&& main) { return std::move(main); }, {.space = &own});
  EXPECT_EQ(own.stats().live_regions, 1u);
  f = std::move(f).resume();
  EXPECT_EQ(own.stats().live_regions, 0u);
}

// ---- fatal misuse, in subprocesses --------------------------------------------------

TEST(fiber_context_DeathTest, SwallowingForcedUnwindIsReportedAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        fiber_context f([](fiber_context&& main) {
          try {
            main = std::move(main).resume();
          } catch (...) {
          }
          return fiber_context{};
        });
        f = std::move(f).resume();
      },
      "forced_unwind unwinding a fiber_context was caught and not rethrown");
}

TEST(fiber_context_DeathTest, ReturningAnEmptyContextIsReportedAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        fiber_context f([](fiber_context&&) { return fiber_context{}; }, {.name = "nowhere"});
        f = std::move(f).resume();
      },
      "fiber_context 'nowhere' returned an empty fiber_context");
}

TEST(fiber_context_DeathTest, AnExceptionEscapingTheEntryIsReportedAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        fiber_context f([](fiber_context&&) -> fiber_context { throw std::runtime_error("lost"); },
                        {.name = "thrower"});
        f = std::move(f).resume();
      },
      "fiber_context 'thrower': an exception escaped its entry function: lost");
}

TEST(fiber_context_DeathTest, UnwindingACospaceFiberThroughItsHandleIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        cospace::fiber outer([] {
          fiber_context a([](fiber_context&& fiber_side) {
            { fiber_context doomed = std::move(fiber_side); }  // unwinds the cospace::fiber's stack
            return fiber_context{};
          });
          a = std::move(a).resume();
        });
        outer.resume();
      },
      "reached the root of a stack that is not a fiber_context's own");
}

TEST(fiber_context_DeathTest, AnExceptionFromResumeWithOnAFreshContextIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        fiber_context f([](fiber_context&& c) { return std::move(c); }, {.name = "unstarted"});
        static fiber_context kept;
        f = std::move(f).resume_with([](fiber_context&& main) -> fiber_context {
          kept = std::move(main);
          throw std::runtime_error("nowhere to go");
        });
      },
      "fiber_context 'unstarted': the function given to resume_with threw before the context ever ran");
}

TEST(fiber_context_DeathTest, DestroyingOnAnotherThreadIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        fiber_context f([](fiber_context&& main) {
          main = std::move(main).resume();
          return std::move(main);
        });
        f = std::move(f).resume();
        std::thread([&] { fiber_context doomed = std::move(f); }).join();
      },
      "destroyed on another thread than the one it was suspended on");
}

TEST(fiber_context_DeathTest, OverflowNamesTheContext) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        fiber_context f([](fiber_context&& main) {
          recurse(std::size_t{64} << 20);
          return std::move(main);
        }, {.name = "bottomless", .max_stack = 1 << 20});
        f = std::move(f).resume();
      },
      "stack overflow in fiber 'bottomless'");
}

}  // namespace
