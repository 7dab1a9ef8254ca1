// The behavioural suite of the context layer, through the public C API, on
// whichever backend this build selected (CI builds it once per backend and
// once per architecture).
#include <cospace/context.h>

#include <gtest/gtest.h>

#include "../support/no_core_dumps.hpp"

#include <cfenv>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/test_stacks.hpp"

namespace {

using cospace::test::test_stacks;

cospace_context make(test_stacks& stacks, cospace_context_entry entry) {
  cospace_context ctx = nullptr;
  const cospace_status status = cospace_context_create(stacks.next(), stacks.stack_size(), entry, &ctx);
  EXPECT_EQ(status, COSPACE_OK) << cospace_status_message(status);
  return ctx;
}

// ---- creation preconditions ------------------------------------------------

void never_runs(cospace_transfer) { std::abort(); }

TEST(ContextCreate, RejectsNullEntry) {
  test_stacks stacks;
  cospace_context ctx = nullptr;
  EXPECT_EQ(cospace_context_create(stacks.next(), stacks.stack_size(), nullptr, &ctx),
            COSPACE_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(ctx, nullptr);
}

TEST(ContextCreate, RejectsNullOutputAndNullStack) {
  test_stacks stacks;
  EXPECT_EQ(cospace_context_create(stacks.next(), stacks.stack_size(), never_runs, nullptr),
            COSPACE_ERROR_NULL_ARGUMENT);
  cospace_context ctx = nullptr;
  EXPECT_EQ(cospace_context_create(nullptr, stacks.stack_size(), never_runs, &ctx),
            COSPACE_ERROR_NULL_ARGUMENT);
}

TEST(ContextCreate, RejectsMisalignedStackTop) {
  test_stacks stacks;
  auto* top = static_cast<char*>(stacks.next());
  cospace_context ctx = nullptr;
  for (int offset : {1, 4, 8, 12}) {
    EXPECT_EQ(cospace_context_create(top - offset, stacks.stack_size() - 16, never_runs, &ctx),
              COSPACE_ERROR_STACK_MISALIGNED)
        << "offset " << offset;
  }
}

TEST(ContextCreate, RejectsStackBelowMinimum) {
  test_stacks stacks;
  cospace_context ctx = nullptr;
  const std::size_t min = cospace_context_min_stack();
  EXPECT_GT(min, 0u);
  EXPECT_EQ(cospace_context_create(stacks.next(), min - 1, never_runs, &ctx),
            COSPACE_ERROR_STACK_TOO_SMALL);
  EXPECT_EQ(cospace_context_create(stacks.next(), 0, never_runs, &ctx), COSPACE_ERROR_STACK_TOO_SMALL);
  EXPECT_EQ(cospace_context_create(stacks.next(), min, never_runs, &ctx), COSPACE_OK);
}

TEST(ContextCreate, StatusMessagesNameTheProblem) {
  EXPECT_NE(std::string(cospace_status_message(COSPACE_ERROR_STACK_MISALIGNED)).find("aligned"),
            std::string::npos);
  EXPECT_NE(std::string(cospace_status_message(COSPACE_ERROR_STACK_TOO_SMALL)).find("minimum"),
            std::string::npos);
  EXPECT_NE(std::string(cospace_status_message(COSPACE_ERROR_NULL_ARGUMENT)).find("null"),
            std::string::npos);
  EXPECT_NE(std::string(cospace_status_message(static_cast<cospace_status>(COSPACE_ERROR_OUT_OF_MEMORY + 1))).find("unknown"),
            std::string::npos);
}

TEST(ContextCreate, ReportsItsBackend) {
  const std::string backend = cospace_context_backend();
  EXPECT_TRUE(backend == "asm" || backend == "sjlj" || backend == "ucontext") << backend;
}

// ---- data flow ----------------------------------------------------------------

// Echoes every value back incremented, until it receives nullptr.
void incrementer(cospace_transfer t) {
  for (;;) {
    auto* value = static_cast<long*>(t.data);
    if (value == nullptr) break;
    ++*value;
    t = cospace_context_jump(t.from, value);
  }
  cospace_context_jump(t.from, nullptr);
}

TEST(ContextJump, PassesDataBothWaysAndNamesTheJumper) {
  test_stacks stacks;
  cospace_context ctx = make(stacks, incrementer);
  long value = 41;
  cospace_transfer t = cospace_context_jump(ctx, &value);
  EXPECT_EQ(t.data, &value);
  EXPECT_EQ(value, 42);
  EXPECT_NE(t.from, nullptr);
  t = cospace_context_jump(t.from, &value);
  EXPECT_EQ(value, 43);
  t = cospace_context_jump(t.from, nullptr);
  EXPECT_EQ(t.data, nullptr);
}

TEST(ContextJump, FreshContextRunsOnItsOwnStack) {
  test_stacks stacks;
  static void* top;
  static std::size_t size;
  top = stacks.next();
  size = stacks.stack_size();
  cospace_context ctx = nullptr;
  ASSERT_EQ(cospace_context_create(top, size, [](cospace_transfer t) {
              auto* sp = static_cast<char*>(cospace_context_stack_pointer());
              bool inside = sp < static_cast<char*>(top) && sp > static_cast<char*>(top) - size;
              cospace_context_jump(t.from, reinterpret_cast<void*>(inside ? 1 : 0));
            }, &ctx), COSPACE_OK);
  EXPECT_EQ(cospace_context_jump(ctx, nullptr).data, reinterpret_cast<void*>(1));
}

TEST(ContextJump, StackIsAlignedForTheAbiInEntryAndBelow) {
  test_stacks stacks;
  cospace_context ctx = make(stacks, [](cospace_transfer t) {
    // A 16-byte-aligned local proves the frame is aligned as the ABI promises
    // (the compiler relies on it and does not realign).
    alignas(16) volatile unsigned char probe[16] = {};
    auto address = reinterpret_cast<std::uintptr_t>(&probe[0]);
    cospace_context_jump(t.from, reinterpret_cast<void*>(address % 16));
  });
  EXPECT_EQ(cospace_context_jump(ctx, nullptr).data, nullptr);
}

// A -> B -> C -> A, each hop appending its name.
struct chain {
  std::string trace;
  cospace_context b = nullptr, c = nullptr;
};

TEST(ContextJump, ChainsThroughThreeContexts) {
  test_stacks stacks;
  static cospace_context a_handle;
  chain ch;
  // A (this test) jumps to B; B jumps to C; C learns B as `from`, but must
  // return to A: it gets A's handle through shared state set by B's entry.
  ch.b = make(stacks, [](cospace_transfer t) {
    a_handle = t.from;
    auto* c = static_cast<chain*>(t.data);
    c->trace += "B";
    cospace_context_jump(c->c, c);
    std::abort();
  });
  ch.c = make(stacks, [](cospace_transfer t) {
    auto* c = static_cast<chain*>(t.data);
    c->trace += "C";
    cospace_context_jump(a_handle, c);
    std::abort();
  });
  ch.trace = "A";
  cospace_transfer back = cospace_context_jump(ch.b, &ch);
  ch.trace += "A";
  EXPECT_EQ(ch.trace, "ABCA");
  EXPECT_EQ(back.data, &ch);
}

TEST(ContextJump, TenMillionPingPongs) {
  test_stacks stacks;
  cospace_context ctx = make(stacks, incrementer);
  long value = 0;
  // A million on ucontext, where every switch is a sigprocmask system call (ten million
  // took 24 s there, the whole of the ucontext preset's test time).
  const long rounds = std::strcmp(cospace_context_backend(), "ucontext") == 0 ? 1'000'000 : 10'000'000;
  cospace_transfer t = cospace_context_jump(ctx, &value);
  for (long i = 1; i < rounds; ++i) t = cospace_context_jump(t.from, &value);
  EXPECT_EQ(value, rounds);
  cospace_context_jump(t.from, nullptr);
}

// ---- ontop -----------------------------------------------------------------

TEST(ContextOntop, RunsOnTopOfAFreshContextBeforeItsEntry) {
  test_stacks stacks;
  static void* top;
  top = stacks.next();
  cospace_context ctx = nullptr;
  ASSERT_EQ(cospace_context_create(top, stacks.stack_size(), [](cospace_transfer t) {
              // entry receives what the ontop function returned
              cospace_context_jump(t.from, t.data);
            }, &ctx), COSPACE_OK);
  static long seen_inside;
  long value = 7;
  cospace_transfer t = cospace_context_jump_ontop(ctx, &value, [](cospace_transfer in) {
    // runs on the target's stack
    auto* sp = static_cast<char*>(cospace_context_stack_pointer());
    seen_inside = sp < static_cast<char*>(top) ? 1 : 0;
    *static_cast<long*>(in.data) *= 6;
    return in;
  });
  EXPECT_EQ(seen_inside, 1);
  EXPECT_EQ(t.data, &value);
  EXPECT_EQ(value, 42);
}

TEST(ContextOntop, ReplacesWhatASuspendedJumpReturns) {
  test_stacks stacks;
  cospace_context ctx = make(stacks, [](cospace_transfer t) {
    t = cospace_context_jump(t.from, nullptr);  // suspended here; the ontop result arrives
    long received = *static_cast<long*>(t.data);
    cospace_context_jump(t.from, reinterpret_cast<void*>(received));
    std::abort();
  });
  cospace_transfer t = cospace_context_jump(ctx, nullptr);
  static long replacement = 99;
  long original = 1;
  t = cospace_context_jump_ontop(t.from, &original, [](cospace_transfer in) {
    return cospace_transfer{in.from, &replacement};
  });
  EXPECT_EQ(reinterpret_cast<long>(t.data), 99);
}

cospace_context g_ontop_origin = nullptr;

TEST(ContextOntop, ExceptionFromOntopSurfacesInTheResumedContext) {
  test_stacks stacks;
  cospace_context ctx = make(stacks, [](cospace_transfer t) {
    cospace_context from = t.from;
    std::string caught;
    try {
      t = cospace_context_jump(from, nullptr);
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
    // `from` was consumed by the ontop jump; the thrower's handle is gone with
    // the exception, so report back through the handle the ontop function saved.
    cospace_context_jump(g_ontop_origin, caught == "injected" ? reinterpret_cast<void*>(1) : nullptr);
    std::abort();
  });
  cospace_transfer t = cospace_context_jump(ctx, nullptr);
  t = cospace_context_jump_ontop(t.from, nullptr, [](cospace_transfer in) -> cospace_transfer {
    g_ontop_origin = in.from;
    throw std::runtime_error("injected");
  });
  EXPECT_EQ(t.data, reinterpret_cast<void*>(1));
}

// ---- exceptions and drop ----------------------------------------------------

TEST(ContextExceptions, ThrownAndCaughtInsideWhileOthersAreSuspended) {
  test_stacks stacks;
  cospace_context sleeper = make(stacks, incrementer);
  long value = 0;
  cospace_transfer sleeping = cospace_context_jump(sleeper, &value);  // suspended in incrementer
  cospace_context thrower = make(stacks, [](cospace_transfer t) {
    int caught = 0;
    for (int i = 0; i < 100; ++i) {
      try {
        throw std::runtime_error("inside");
      } catch (const std::runtime_error&) {
        ++caught;
        t = cospace_context_jump(t.from, &caught);  // suspend inside the catch block
      }
    }
    cospace_context_jump(t.from, nullptr);
    std::abort();
  });
  cospace_transfer t = cospace_context_jump(thrower, nullptr);
  int rounds = 1;
  while (t.data != nullptr) {
    EXPECT_EQ(*static_cast<int*>(t.data), rounds);
    try {
      throw std::logic_error("outside");
    } catch (const std::logic_error&) {
      t = cospace_context_jump(t.from, nullptr);
    }
    ++rounds;
  }
  EXPECT_EQ(rounds, 101);
  sleeping = cospace_context_jump(sleeping.from, &value);
  EXPECT_EQ(value, 2);
  cospace_context_jump(sleeping.from, nullptr);
}

// Counts heap allocations made by this thread while armed.
thread_local bool g_counting = false;
thread_local long g_allocations = 0;

TEST(ContextDrop, AContextNeverResumedIsSimplyDroppedAndNothingIsAllocated) {
  long value = 0;
  {
    test_stacks stacks;
    g_allocations = 0;
    g_counting = true;
    for (int i = 0; i < 32; ++i) {
      cospace_context ctx = make(stacks, incrementer);
      cospace_transfer t = cospace_context_jump(ctx, &value);
      t = cospace_context_jump(t.from, &value);
      (void)t;  // suspended forever: its handle is forgotten, its stack unmapped
    }
    g_counting = false;
  }
  EXPECT_EQ(value, 64);
  EXPECT_EQ(g_allocations, 0) << "the context layer must not allocate";
}

// ---- floating-point control state -------------------------------------------

// The child reports the rounding mode it finds on every resume, then sets its
// own (FE_UPWARD) before jumping back.
void rounding_child(cospace_transfer t) {
  for (;;) {
    const long found = std::fegetround();
    std::fesetround(FE_UPWARD);
    t = cospace_context_jump(t.from, reinterpret_cast<void*>(found));
  }
}

TEST(ContextFloatingPoint, RoundingModeFollowsEachContext) {
  test_stacks stacks;
  const int original = std::fegetround();
  cospace_context child = make(stacks, rounding_child);
  for (int i = 0; i < 1000; ++i) {
    const int mine = i % 2 == 0 ? FE_DOWNWARD : FE_TOWARDZERO;
    std::fesetround(mine);
    cospace_transfer t = cospace_context_jump(child, nullptr);
    child = t.from;
    const long child_found = reinterpret_cast<long>(t.data);
#ifdef COSPACE_SHARED_FP_CONTROL
    // Opt-in shared mode: the control state belongs to the thread, so each
    // side sees what the other set last.
    EXPECT_EQ(child_found, mine);
    EXPECT_EQ(std::fegetround(), FE_UPWARD);
#else
    if (i > 0) {
      EXPECT_EQ(child_found, FE_UPWARD) << "the child's rounding mode was lost";
    }
    EXPECT_EQ(std::fegetround(), mine) << "the child's rounding mode leaked into the parent";
#endif
  }
  std::fesetround(original);
}

TEST(ContextFloatingPoint, ArithmeticUsesTheContextsRoundingMode) {
  test_stacks stacks;
  const int original = std::fegetround();
  cospace_context ctx = make(stacks, [](cospace_transfer t) {
    std::fesetround(FE_UPWARD);
    for (;;) {
      volatile double one = 1.0, three = 3.0;
      static double result;
      result = one / three;
      t = cospace_context_jump(t.from, &result);
    }
  });
  std::fesetround(FE_DOWNWARD);
  volatile double one = 1.0, three = 3.0;
  for (int i = 0; i < 10; ++i) {
    cospace_transfer t = cospace_context_jump(ctx, nullptr);
    ctx = t.from;
    double up = *static_cast<double*>(t.data);
    double down = one / three;
#ifndef COSPACE_SHARED_FP_CONTROL
    EXPECT_LT(down, up) << "each context must divide in its own rounding mode";
#else
    (void)up;
    (void)down;
    std::fesetround(FE_DOWNWARD);
#endif
  }
  std::fesetround(original);
}

// ---- contract violations -----------------------------------------------------

TEST(ContextDeathTest, EntryThatReturnsIsReportedAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        test_stacks stacks;
        cospace_context ctx = make(stacks, [](cospace_transfer) {});
        cospace_context_jump(ctx, nullptr);
      },
      "entry function returned");
}

}  // namespace

// Global allocation counting for the drop test: the replacement operators
// forward to malloc/free, which GCC cannot see is a matched pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
