// Sliced fibers beyond the shared fiber suite (tests/fiber runs that suite
// for stack_kind::sliced too): bytes restored exactly, lazy saving, several
// shared stacks, the thread rule, overflow, and a randomised interleaving.
#include <cospace/context.h>
#include <cospace/fiber.hpp>
#include <cospace/generator.hpp>
#include <cospace/slicing.hpp>
#include <cospace/space.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../support/no_core_dumps.hpp"

namespace {

using cospace::fiber;
using cospace::fiber_error;
using cospace::slicing_options;
using cospace::stack_kind;
namespace this_fiber = cospace::this_fiber;

constexpr cospace::fiber_options sliced{.stack = stack_kind::sliced};

cospace::slicing_statistics stats_delta(const cospace::slicing_statistics& before) {
  const cospace::slicing_statistics now = cospace::slicing_stats();
  return {now.saves - before.saves,
          now.restores - before.restores,
          now.bytes_saved - before.bytes_saved,
          now.bytes_restored - before.bytes_restored,
          now.switches_in - before.switches_in,
          now.copy_free - before.copy_free};
}

// Each test starts from the default configuration, with no idle stacks kept.
class Sliced : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_THREAD__)
    EXPECT_THROW(fiber([] {}, sliced), fiber_error);
    GTEST_SKIP() << "ThreadSanitizer cannot follow sliced stacks: refused (checked)";
#endif
    cospace::configure_slicing({});
  }
  void TearDown() override { cospace::configure_slicing({}); }
};

// Fills a frame with a pattern drawn from `seed`, recurses `levels` deeper,
// yields `yields` times at the bottom (and once on the way), and checks the
// pattern every time it runs again. Returns the number of mismatches.
[[gnu::noinline]] int patterned_descent(std::uint32_t seed, int levels, int yields) {
  volatile std::uint32_t frame[64];
  std::minstd_rand pattern(seed);
  for (auto& word : frame) word = static_cast<std::uint32_t>(pattern());
  int bad = 0;
  auto check = [&] {
    std::minstd_rand again(seed);
    for (auto& word : frame)
      if (word != static_cast<std::uint32_t>(again())) ++bad;
  };
  if (levels > 0) {
    bad += patterned_descent(seed * 2654435761u + 1, levels - 1, yields);
    this_fiber::yield();
    check();
  } else {
    for (int i = 0; i < yields; ++i) {
      this_fiber::yield();
      check();
    }
  }
  check();
  return bad;
}

TEST_F(Sliced, SlicesComeBackBitExactAtRandomDepths) {
  std::mt19937 rng(12345);
  constexpr int fibers = 64;
  std::vector<fiber> all;
  std::vector<int> mismatches(fibers, -1);
  for (int i = 0; i < fibers; ++i) {
    const int levels = static_cast<int>(rng() % 48);
    const auto seed = static_cast<std::uint32_t>(rng());
    all.emplace_back([&mismatches, i, levels, seed] { mismatches[i] = patterned_descent(seed, levels, 3); },
                     sliced);
  }
  // Resume in random order until every fiber is done.
  for (std::size_t live = all.size(); live > 0;) {
    fiber& f = all[rng() % all.size()];
    if (f.done()) continue;
    f.resume();
    if (f.done()) --live;
  }
  for (int i = 0; i < fibers; ++i) EXPECT_EQ(mismatches[i], 0) << "fiber " << i;
}

TEST_F(Sliced, PointersIntoItsOwnStackStayValidAcrossSwitches) {
  cospace::configure_slicing({.shared_stacks = 1});  // everyone on one stack: every switch copies
  std::vector<fiber> others;
  for (int i = 0; i < 4; ++i)
    others.emplace_back([] {
      volatile char scribble[2048];
      for (;;) {
        for (auto& c : scribble) c = 'x';
        this_fiber::yield();
      }
    }, sliced);
  bool intact = true;
  fiber f([&] {
    int value = 41;
    int* self_pointer = &value;  // into this fiber's own stack
    std::string text(100, 'a');  // its own heap, reached from its stack
    for (int round = 0; round < 10; ++round) {
      this_fiber::yield();
      ++*self_pointer;
      intact = intact && text == std::string(100, 'a');
    }
    intact = intact && value == 51;
  }, sliced);
  while (!f.done()) {
    f.resume();
    for (fiber& o : others) o.resume();
  }
  EXPECT_TRUE(intact);
  EXPECT_GT(cospace::slicing_stats().restores, 0u);
}

TEST_F(Sliced, AFiberResumedWithNobodyInBetweenCopiesNothing) {
  fiber f([] {
    volatile char local[512] = {};
    for (int i = 0; i < 100; ++i) {
      local[i] = static_cast<char>(local[i] + 1);
      this_fiber::yield();
    }
  }, sliced);
  f.resume();
  const auto before = cospace::slicing_stats();
  for (int i = 0; i < 50; ++i) f.resume();
  const auto d = stats_delta(before);
  EXPECT_EQ(d.switches_in, 50u);
  EXPECT_EQ(d.copy_free, 50u);
  EXPECT_EQ(d.bytes_saved + d.bytes_restored, 0u);
}

TEST_F(Sliced, TwoFibersOnOneStackCopyOnlyTheirSlices) {
  cospace::configure_slicing({.shared_stacks = 1});
  auto body = [] {
    volatile char local[1000] = {};
    for (int i = 0; i < 100; ++i) {
      local[i] = static_cast<char>(local[i] + 1);
      this_fiber::yield();
    }
  };
  fiber a(body, sliced), b(body, sliced);
  a.resume();
  b.resume();
  const auto before = cospace::slicing_stats();
  for (int i = 0; i < 20; ++i) {
    a.resume();
    b.resume();
  }
  const auto d = stats_delta(before);
  EXPECT_EQ(d.copy_free, 0u);
  EXPECT_EQ(d.restores, 40u);
  // Each switch saves the other's slice and restores this one's: about 1 KiB
  // plus a few frames each way (more on the portable backends, whose switch
  // frames are large), never the whole stack.
  EXPECT_GT(d.bytes_restored, 40u * 1000);
  EXPECT_LT(d.bytes_restored, 40u * 8192);
  EXPECT_LE(a.stack_in_use(), 8192u);  // 1000 bytes and frames (more on the portable backends)
}

TEST_F(Sliced, SeveralSharedStacksSpareShallowFibersTheDeepOnesCopies) {
  auto run = [](std::size_t stacks) {
    cospace::configure_slicing({.shared_stacks = stacks});
    fiber deep([] {
      volatile char big[64 * 1024];
      big[0] = 1;
      for (int i = 0; i < 10; ++i) this_fiber::yield();
      big[1] = big[0];
    }, sliced);
    fiber shallow([] {
      for (int i = 0; i < 10; ++i) this_fiber::yield();
    }, sliced);
    const auto before = cospace::slicing_stats();
    for (int i = 0; i < 10; ++i) {
      deep.resume();
      shallow.resume();
    }
    return stats_delta(before).bytes_saved;
  };
  const std::uint64_t one_stack = run(1);
  const std::uint64_t two_stacks = run(2);
  EXPECT_GT(one_stack, 9u * 64 * 1024) << "the deep fiber is saved whenever the shallow one runs";
  EXPECT_EQ(two_stacks, 0u) << "on stacks of their own, nobody's bytes are in anybody's way";
}

TEST_F(Sliced, NestedSlicedFibersOnTheSameStackResumeEachOther) {
  cospace::configure_slicing({.shared_stacks = 1});
  std::vector<int> order;
  fiber inner([&] {
    volatile char pad[3000];
    pad[0] = 7;
    order.push_back(2);
    this_fiber::yield();
    order.push_back(4 + pad[0] - 7);
  }, sliced);
  fiber outer([&] {
    volatile char pad[5000];
    pad[10] = 9;
    order.push_back(1);
    inner.resume();  // inner is restored over outer's own bytes: the copier moves both
    order.push_back(3 + pad[10] - 9);
    inner.resume();
    order.push_back(5);
  }, sliced);
  outer.resume();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(outer.done());
  EXPECT_TRUE(inner.done());
}

// A sliced fiber that resumes a region fiber is suspended too: where it
// stopped must be recorded before that fiber makes another slice resident
// on the same shared stack (it is not the one the region fiber yields to).
TEST_F(Sliced, ASlicedFiberResumingARegionFiberThatResumesAnotherSliceKeepsItsBytes) {
  cospace::configure_slicing({.shared_stacks = 1});
  int bad = -1, other_bad = -1;
  fiber other([&] { other_bad = patterned_descent(77, 6, 2); }, sliced);
  fiber middle([&] {  // a region stack
    this_fiber::yield();
    other.resume();
  });
  middle.resume();  // started from the thread (the sjlj backend enters fresh stacks only downwards)
  fiber outer([&] {
    volatile std::uint32_t frame[96];
    for (std::uint32_t i = 0; i < 96; ++i) frame[i] = i * 2654435761u;
    middle.resume();  // middle makes `other` resident over this frame
    int wrong = 0;
    for (std::uint32_t i = 0; i < 96; ++i) wrong += frame[i] != i * 2654435761u;
    bad = wrong;
  }, sliced);
  outer.resume();
  EXPECT_TRUE(outer.done());
  EXPECT_TRUE(middle.done());
  EXPECT_EQ(bad, 0);
  while (!other.done()) other.resume();
  EXPECT_EQ(other_bad, 0);
}

TEST_F(Sliced, SwitchToBetweenSlicedFibersOnOneStack) {
  cospace::configure_slicing({.shared_stacks = 1});
  std::string trace;
  fiber b;
  fiber a([&] {
    volatile char pad[2000];
    pad[0] = 'a';
    trace += static_cast<char>(pad[0]);
    this_fiber::switch_to(b);
    trace += static_cast<char>(pad[0] + 2);  // 'c'
  }, sliced);
  b = fiber([&] {
    volatile char pad[700];
    pad[0] = 'b';
    trace += static_cast<char>(pad[0]);
    this_fiber::switch_to(a);
    trace += static_cast<char>(pad[0] + 2);  // 'd'
  }, sliced);
  a.resume();  // a, b, then a finishes: back here
  EXPECT_EQ(trace, "abc");
  b.resume();
  EXPECT_EQ(trace, "abcd");
}

TEST_F(Sliced, GeneratorsOnSlicedStacksHandValuesOutByCopy) {
  cospace::configure_slicing({.shared_stacks = 1});
  auto make = [](int from) {
    return cospace::generator<std::string>([from](auto& out) {
      for (int i = from; i < from + 50; ++i) {
        std::string local = "value " + std::to_string(i);  // on the sliced stack
        out.yield(local);
      }
    }, sliced);
  };
  // Two generators on one shared stack, consumed in lock-step: every value
  // crosses while its producer's bytes are being replaced by the other's.
  auto g = make(0), h = make(1000);
  auto i = g.begin();
  auto j = h.begin();
  int n = 0;
  for (; i != g.end() && j != h.end(); ++i, ++j, ++n) {
    EXPECT_EQ(*i, "value " + std::to_string(n));
    EXPECT_EQ(*j, "value " + std::to_string(1000 + n));
  }
  EXPECT_EQ(n, 50);
}

TEST_F(Sliced, APointerYieldedIntoASuspendedSliceIsCaught) {
  cospace::generator<const int*> g([](auto& out) {
    int local = 5;
    out.yield(&local);  // the mistake: the consumer would read it while the body is suspended
  }, sliced);
  std::string error;
  try {
    for (const int* p : g) (void)p;
  } catch (const fiber_error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("sliced"), std::string::npos) << error;
  int on_main = 0;
  EXPECT_FALSE(cospace::points_into_suspended_slice(&on_main));
}

TEST_F(Sliced, SuspendedFibersHoldTheirSliceAndAFixedHeader) {
  cospace::configure_slicing({.shared_stacks = 1});
  std::vector<fiber> all;
  for (int i = 0; i < 8; ++i)
    all.emplace_back([] {
      volatile char local[200];
      local[0] = 1;
      this_fiber::yield();
      local[1] = local[0];
    }, sliced);
  for (fiber& f : all) f.resume();
  // All but the last were saved when the next one ran on the shared stack.
  for (fiber& f : all) {
    EXPECT_GT(f.stack_in_use(), 200u);
    // The local and a few frames (plus, on the portable backends, the bound
    // on their switch frame that slicing keeps: live_below_handle).
    EXPECT_LT(f.stack_in_use(), 8192u) << "the live slice: the local and a few frames";
  }
}

TEST_F(Sliced, BadConfigurationIsAFiberError) {
  EXPECT_THROW(cospace::configure_slicing({.shared_stacks = 0}), fiber_error);
  EXPECT_THROW(cospace::configure_slicing({.shared_stacks = 65}), fiber_error);
  cospace::configure_slicing({.shared_stacks = 3});
  EXPECT_EQ(cospace::slicing_configuration().shared_stacks, 3u);
}

TEST_F(Sliced, ASuspendedSlicedFiberCannotBeResumedOnAnotherThread) {
  fiber f([] { this_fiber::yield(); }, sliced);
  f.resume();
  std::string error;
  std::thread([&] {
    try {
      f.resume();
    } catch (const fiber_error& e) {
      error = e.what();
    }
  }).join();
  EXPECT_NE(error.find("cannot move between threads"), std::string::npos) << error;
  f.resume();
  EXPECT_TRUE(f.done());
}

TEST_F(Sliced, EachThreadHasItsOwnSharedStacks) {
  if (std::string(cospace_context_backend()) == "sjlj")
    GTEST_SKIP() << "sjlj: a std::thread's stack lies below the space, so it cannot enter fresh stacks there";
  std::vector<std::thread> threads;
  std::vector<int> sums(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&sums, t] {
      std::vector<fiber> fs;
      for (int i = 0; i < 20; ++i)
        fs.emplace_back([&sums, t, i] {
          volatile int local[32];
          local[0] = i;
          this_fiber::yield();
          sums[t] += local[0];
        }, sliced);
      for (auto& f : fs) f.resume();
      for (auto& f : fs) f.resume();
    });
  for (auto& th : threads) th.join();
  for (int s : sums) EXPECT_EQ(s, 190);
}

// Hundreds of sliced fibers at varied depths, resumed, switched between and
// destroyed in a random order, on 1..4 shared stacks; every fiber checks its
// own frames each time it runs.
TEST_F(Sliced, RandomisedInterleaving) {
  const char* seed_text = std::getenv("COSPACE_TEST_SEED");
  const unsigned seed = seed_text != nullptr ? static_cast<unsigned>(std::strtoul(seed_text, nullptr, 10)) : 2026;
  std::mt19937 rng(seed);
  for (std::size_t stacks : {1, 2, 4}) {
    cospace::configure_slicing({.shared_stacks = stacks});
    constexpr int count = 300;
    std::vector<fiber> all(count);
    std::vector<int> bad(count, 0);
    for (int i = 0; i < count; ++i) {
      const int levels = static_cast<int>(rng() % 4 == 0 ? rng() % 200 : rng() % 8);
      const auto pattern = static_cast<std::uint32_t>(rng());
      all[i] = fiber([&bad, i, levels, pattern] { bad[i] = patterned_descent(pattern, levels, 4); }, sliced);
    }
    for (int step = 0; step < 6000; ++step) {
      fiber& f = all[rng() % count];
      if (!f || f.done()) continue;
      if (rng() % 50 == 0) {
        f.reset();  // destroy: unwinds it wherever it is
        continue;
      }
      f.resume();
    }
    for (int i = 0; i < count; ++i) EXPECT_EQ(bad[i], 0) << "seed " << seed << ", fiber " << i;
  }
}

// ---- overflow: the same diagnostic as region fibers ----------------------------

// Recurses until `depth` frames (never reached: the stack ends first).
[[gnu::noinline]] int recurse_to(int depth, int limit) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  return depth >= limit ? frame[0] : recurse_to(depth + 1, limit) + frame[0];
}

#if !defined(__SANITIZE_THREAD__)
TEST(SlicedDeathTest, ASliceDeeperThanItsSharedStackIsAnOverflow) {
  cospace::test::no_core_dumps();
  EXPECT_DEATH(
      {
        cospace::configure_slicing({.shared_stacks = 1, .max_stack = 256 * 1024});
        fiber f([] { recurse_to(0, 1 << 20); }, {.stack = stack_kind::sliced, .name = "bottomless"});
        f.resume();
      },
      "stack overflow in fiber 'bottomless'");
}

TEST(SlicedDeathTest, DestroyingASuspendedSlicedFiberOnAnotherThreadIsReported) {
  cospace::test::no_core_dumps();
  EXPECT_DEATH(
      {
        auto f = std::make_unique<fiber>([] { this_fiber::yield(); },
                                         cospace::fiber_options{.stack = stack_kind::sliced, .name = "stay"});
        f->resume();
        std::thread([&] { f.reset(); }).join();
      },
      "fiber 'stay'.*cannot move between threads");
}
#endif

}  // namespace
