// The C runtime primitives (cospace/slice.h): hard switching on the thread's
// own stack below a declared base, as a Stackless-style runtime does.
#include <cospace/context.h>
#include <cospace/cospace.h>
#include <cospace/slice.h>

#include <gtest/gtest.h>

#include "../support/no_core_dumps.hpp"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

// The sjlj backend can only enter a fresh stack from above it, and slices on
// the thread's own stack start above cospace's copier: refused, cleanly.
bool thread_stack_slices_supported() { return std::string(cospace_context_backend()) != "sjlj"; }

#define SKIP_UNLESS_SUPPORTED()                                                                  \
  if (!thread_stack_slices_supported()) {                                                        \
    cospace_slice* refused = nullptr;                                                            \
    EXPECT_EQ(cospace_slice_create(&refused, cospace_stack_position(), &never_runs, nullptr),    \
              COSPACE_ERROR_STACK_NOT_BELOW);                                                    \
    GTEST_SKIP() << "sjlj: slices on the thread's own stack are refused (checked)";             \
  }

void never_runs(cospace_slice*, void*) { ADD_FAILURE() << "must not run"; }

struct scheduler;

struct tasklet {
  cospace_slice* slice = nullptr;
  scheduler* owner = nullptr;
  int id = 0;
  int rounds = 0;
  int mismatches = 0;
  int levels = 0;
};

struct scheduler {
  cospace_slice* main = nullptr;
  std::vector<tasklet> tasks;
};

// Frames with a pattern; the bottom one switches back to the scheduler
// `rounds` times and every frame checks its pattern after each switch.
[[gnu::noinline]] void descend(tasklet* t, int level) {
  volatile std::uint64_t frame[16];
  for (int i = 0; i < 16; ++i) frame[i] = (std::uint64_t(t->id) << 32) ^ (std::uint64_t(level) << 8) ^ i;
  auto check = [&] {
    for (int i = 0; i < 16; ++i)
      if (frame[i] != ((std::uint64_t(t->id) << 32) ^ (std::uint64_t(level) << 8) ^ std::uint64_t(i)))
        ++t->mismatches;
  };
  if (level < t->levels) {
    descend(t, level + 1);
  } else {
    for (int r = 0; r < t->rounds; ++r) {
      EXPECT_EQ(cospace_slice_switch(t->slice, t->owner->main), COSPACE_OK);
      check();
    }
  }
  check();
}

void tasklet_body(cospace_slice* self, void* arg) {
  auto* t = static_cast<tasklet*>(arg);
  EXPECT_EQ(self, t->slice);
  EXPECT_EQ(cospace_slice_running(), self);
  descend(t, 0);
}

// Runs all tasklets round-robin from the scheduler until each has finished.
[[gnu::noinline]] void run_round_robin(scheduler& s, void* base) {
  for (tasklet& t : s.tasks) ASSERT_EQ(cospace_slice_create(&t.slice, base, &tasklet_body, &t), COSPACE_OK);
  for (bool any = true; any;) {
    any = false;
    for (tasklet& t : s.tasks) {
      if (cospace_slice_finished(t.slice)) continue;
      any = true;
      ASSERT_EQ(cospace_slice_switch(s.main, t.slice), COSPACE_OK) << cospace_last_error_message();
    }
  }
  for (tasklet& t : s.tasks) EXPECT_EQ(cospace_slice_destroy(t.slice), COSPACE_OK);
}

TEST(SlicePrimitives, TaskletsOnTheThreadsOwnStackComeBackBitExact) {
  SKIP_UNLESS_SUPPORTED();
  void* base = cospace_stack_position();
  scheduler s;
  ASSERT_EQ(cospace_slice_attach(&s.main, base), COSPACE_OK);
  std::mt19937 rng(7);
  s.tasks.resize(50);
  for (int i = 0; i < 50; ++i) s.tasks[i] = tasklet{nullptr, &s, i, 1 + static_cast<int>(rng() % 5), 0,
                                                     static_cast<int>(rng() % 30)};
  run_round_robin(s, base);
  for (const tasklet& t : s.tasks) EXPECT_EQ(t.mismatches, 0) << "tasklet " << t.id;
  EXPECT_EQ(cospace_slice_destroy(s.main), COSPACE_OK);  // detaches
  EXPECT_EQ(cospace_slice_running(), nullptr);
}

struct ring {
  cospace_slice* main = nullptr;
  cospace_slice* slices[3] = {};
  std::string trace;
  int laps = 0;
};

void ring_member(cospace_slice* self, void* arg) {
  auto* r = static_cast<ring*>(arg);
  const int me = self == r->slices[0] ? 0 : self == r->slices[1] ? 1 : 2;
  char mine[64];
  std::memset(mine, 'a' + me, sizeof mine);
  for (int lap = 0; lap < r->laps; ++lap) {
    r->trace += mine[lap % 64];
    cospace_slice_switch(self, r->slices[(me + 1) % 3]);  // straight to the next, no scheduler
  }
  // Slice 0 simply returns: control goes to the slice that switched to it
  // last. The others hand control to the scheduler first.
  if (me != 0) cospace_slice_switch(self, r->main);
}

TEST(SlicePrimitives, SlicesSwitchStraightToEachOtherAndFinishIntoTheLastSwitcher) {
  SKIP_UNLESS_SUPPORTED();
  ring r;
  r.laps = 4;
  void* base = cospace_stack_position();
  ASSERT_EQ(cospace_slice_attach(&r.main, base), COSPACE_OK);
  for (auto& s : r.slices) ASSERT_EQ(cospace_slice_create(&s, base, &ring_member, &r), COSPACE_OK);
  ASSERT_EQ(cospace_slice_switch(r.main, r.slices[0]), COSPACE_OK);
  EXPECT_EQ(r.trace, "abcabcabcabc");
  EXPECT_TRUE(cospace_slice_finished(r.slices[0]));
  for (auto* s : r.slices)
    while (!cospace_slice_finished(s)) ASSERT_EQ(cospace_slice_switch(r.main, s), COSPACE_OK);
  for (auto* s : r.slices) EXPECT_EQ(cospace_slice_destroy(s), COSPACE_OK);
  EXPECT_EQ(cospace_slice_destroy(r.main), COSPACE_OK);
}

struct holder {
  cospace_slice* main = nullptr;
  std::size_t saved_while_suspended = 0;
};

void hold_200_bytes(cospace_slice* self, void* arg) {
  auto* h = static_cast<holder*>(arg);
  volatile char local[200];
  local[0] = 1;
  cospace_slice_switch(self, h->main);
  local[1] = local[0];
}

// The scheduler's own frames sit above the tasklets' base here (Stackless
// puts its tasklets below the scheduler the same way), so switching never
// saves the scheduler: only the tasklets' slices move.
[[gnu::noinline]] void hold_two_tasklets(void* main_base) {
  holder h;
  ASSERT_EQ(cospace_slice_attach(&h.main, main_base), COSPACE_OK);
  void* base = static_cast<char*>(cospace_stack_position()) - 16384;
  cospace_slice* a = nullptr;
  cospace_slice* b = nullptr;
  ASSERT_EQ(cospace_slice_create(&a, base, &hold_200_bytes, &h), COSPACE_OK);
  ASSERT_EQ(cospace_slice_create(&b, base, &hold_200_bytes, &h), COSPACE_OK);
  ASSERT_EQ(cospace_slice_switch(h.main, a), COSPACE_OK);
  // Back in the scheduler, which may use any depth: a had to be saved.
  EXPECT_GT(cospace_slice_saved_bytes(a), 200u);
  EXPECT_LT(cospace_slice_saved_bytes(a), 4096u) << "its live slice: the local and a few frames";
  ASSERT_EQ(cospace_slice_switch(h.main, b), COSPACE_OK);
  EXPECT_EQ(cospace_slice_saved_bytes(h.main), 0u) << "the scheduler lies above the tasklets' base";
  EXPECT_EQ(cospace_slice_base(a), cospace_slice_base(b));
  ASSERT_EQ(cospace_slice_switch(h.main, a), COSPACE_OK);
  ASSERT_EQ(cospace_slice_switch(h.main, b), COSPACE_OK);
  EXPECT_TRUE(cospace_slice_finished(a) && cospace_slice_finished(b));
  EXPECT_EQ(cospace_slice_saved_bytes(h.main), 0u);
  cospace_slice_destroy(a);
  cospace_slice_destroy(b);
  cospace_slice_destroy(h.main);
}

TEST(SlicePrimitives, ASuspendedSliceHoldsItsLiveBytesInTheHeap) {
  SKIP_UNLESS_SUPPORTED();
  hold_two_tasklets(cospace_stack_position());
}

TEST(SlicePrimitives, BadInputIsAnErrorWithAMessage) {
  cospace_slice* out = nullptr;
  EXPECT_EQ(cospace_slice_attach(nullptr, cospace_stack_position()), COSPACE_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(cospace_slice_create(&out, nullptr, &never_runs, nullptr), COSPACE_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(cospace_slice_create(&out, cospace_stack_position(), nullptr, nullptr), COSPACE_ERROR_NULL_ARGUMENT);
  void* below_here = static_cast<char*>(cospace_stack_position()) - 65536;
  EXPECT_EQ(cospace_slice_attach(&out, below_here), COSPACE_ERROR_BAD_OPTION);
  EXPECT_NE(std::string(cospace_last_error_message()).find("above"), std::string::npos);

  SKIP_UNLESS_SUPPORTED();
  void* base = cospace_stack_position();
  cospace_slice* main = nullptr;
  ASSERT_EQ(cospace_slice_attach(&main, base), COSPACE_OK);
  cospace_slice* again = nullptr;
  EXPECT_EQ(cospace_slice_attach(&again, base), COSPACE_ERROR_FIBER_MISUSE);
  cospace_slice* t = nullptr;
  ASSERT_EQ(cospace_slice_create(&t, base, &never_runs, nullptr), COSPACE_OK);
  EXPECT_EQ(cospace_slice_switch(t, main), COSPACE_ERROR_FIBER_MISUSE) << "t is not running";
  EXPECT_NE(std::string(cospace_last_error_message()).find("not the running slice"), std::string::npos);
  EXPECT_EQ(cospace_slice_switch(main, main), COSPACE_ERROR_FIBER_MISUSE);
  EXPECT_EQ(cospace_slice_switch(main, nullptr), COSPACE_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(cospace_slice_destroy(t), COSPACE_OK) << "a slice that never ran is simply freed";
  EXPECT_EQ(cospace_slice_destroy(nullptr), COSPACE_OK);
  EXPECT_EQ(cospace_slice_finished(nullptr), 0);
  EXPECT_EQ(cospace_slice_saved_bytes(nullptr), 0u);
  EXPECT_EQ(cospace_slice_destroy(main), COSPACE_OK);
}

// The slice a running slice returns to cannot be destroyed under it: the
// running slice's function would return into freed memory.
struct destroy_probe {
  cospace_slice* main = nullptr;
  cospace_status destroying_main = COSPACE_OK;
};

void try_to_destroy_main(cospace_slice*, void* arg) {
  auto* p = static_cast<destroy_probe*>(arg);
  p->destroying_main = cospace_slice_destroy(p->main);
}

TEST(SlicePrimitives, TheSliceTheRunningOneReturnsToIsNotDestroyed) {
  SKIP_UNLESS_SUPPORTED();
  void* base = cospace_stack_position();
  destroy_probe probe;
  ASSERT_EQ(cospace_slice_attach(&probe.main, base), COSPACE_OK);
  cospace_slice* t = nullptr;
  ASSERT_EQ(cospace_slice_create(&t, base, &try_to_destroy_main, &probe), COSPACE_OK);
  ASSERT_EQ(cospace_slice_switch(probe.main, t), COSPACE_OK);  // t runs, returns to main
  EXPECT_EQ(probe.destroying_main, COSPACE_ERROR_FIBER_MISUSE);
  EXPECT_EQ(cospace_slice_finished(t), 1);
  EXPECT_EQ(cospace_slice_destroy(t), COSPACE_OK) << "a finished slice that returned to main is not main's to return to";
  EXPECT_EQ(cospace_slice_destroy(probe.main), COSPACE_OK);
}

// A suspended slice may return into a slice destroyed meanwhile: B's
// returns-to slice is A (A switched to it), B switches to C, C destroys A
// (allowed: C returns to B, not to A) and returns into B, which then
// returns. A's record must not be read after it was freed: B's return is
// reported and aborts (before, it read the freed record, and under
// AddressSanitizer that was a heap-use-after-free).
struct chain {
  cospace_slice* main = nullptr;
  cospace_slice* a = nullptr;
  cospace_slice* b = nullptr;
  cospace_slice* c = nullptr;
  cospace_status destroying_a = COSPACE_ERROR_SYSTEM;
  bool b_back = false;
  bool b_returns = true;  // B's function returns (into A) once C is done
};

void chain_a(cospace_slice* self, void* arg) {
  auto* ch = static_cast<chain*>(arg);
  cospace_slice_switch(self, ch->b);
  ADD_FAILURE() << "A is never switched to again";
}

void chain_b(cospace_slice* self, void* arg) {
  auto* ch = static_cast<chain*>(arg);
  cospace_slice_switch(self, ch->c);  // C returns here when it is done
  ch->b_back = true;
  if (!ch->b_returns) cospace_slice_switch(self, ch->main);
}

void chain_c(cospace_slice*, void* arg) {
  auto* ch = static_cast<chain*>(arg);
  ch->destroying_a = cospace_slice_destroy(ch->a);
}

[[gnu::noinline]] void run_chain(chain& ch) {
  void* base = cospace_stack_position();
  ASSERT_EQ(cospace_slice_attach(&ch.main, base), COSPACE_OK);
  ASSERT_EQ(cospace_slice_create(&ch.a, base, &chain_a, &ch), COSPACE_OK);
  ASSERT_EQ(cospace_slice_create(&ch.b, base, &chain_b, &ch), COSPACE_OK);
  ASSERT_EQ(cospace_slice_create(&ch.c, base, &chain_c, &ch), COSPACE_OK);
  ASSERT_EQ(cospace_slice_switch(ch.main, ch.a), COSPACE_OK);  // A -> B -> C; C returns into B
}

TEST(SlicePrimitivesDeathTest, ReturningIntoADestroyedSliceIsReportedAndAborts) {
  SKIP_UNLESS_SUPPORTED();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        chain ch;
        run_chain(ch);
      },
      "cospace: a slice's function returned into a slice that was destroyed \\(cospace_slice_destroy\\)");
}

// The same chain, but B does not return into A: it switches to main, which
// then either resumes it (B returns to main from then on) and lets it
// finish, or destroys it suspended. Every record is freed in the end, A's
// included (LeakSanitizer and memcheck check that in the asan and valgrind
// runs).
TEST(SlicePrimitives, ASliceWhoseReturnsToSliceWasDestroyedFinishesIntoItsNextResumer) {
  SKIP_UNLESS_SUPPORTED();
  for (const bool resume_b : {true, false}) {
    chain ch;
    ch.b_returns = false;
    run_chain(ch);
    EXPECT_EQ(ch.destroying_a, COSPACE_OK);
    EXPECT_TRUE(ch.b_back);
    EXPECT_EQ(cospace_slice_finished(ch.c), 1);
    EXPECT_EQ(cospace_slice_finished(ch.b), 0);
    if (resume_b) {
      ASSERT_EQ(cospace_slice_switch(ch.main, ch.b), COSPACE_OK);  // B's function returns into main
      EXPECT_EQ(cospace_slice_finished(ch.b), 1);
    }
    EXPECT_EQ(cospace_slice_destroy(ch.c), COSPACE_OK);
    EXPECT_EQ(cospace_slice_destroy(ch.b), COSPACE_OK);
    EXPECT_EQ(cospace_slice_destroy(ch.main), COSPACE_OK);
  }
}

// Under ThreadSanitizer every slice is a TSan fiber, of which TSan allows
// about 8,000 in all and dies past that: creation is refused first, cleanly.
// Elsewhere the same number of slices is simply made.
TEST(SlicePrimitives, ManyLiveSlicesAreMadeOrRefusedCleanly) {
  SKIP_UNLESS_SUPPORTED();
  void* base = cospace_stack_position();
  std::vector<cospace_slice*> made;
  cospace_status refused = COSPACE_OK;
  for (int i = 0; i < 9000; ++i) {
    cospace_slice* s = nullptr;
    const cospace_status status = cospace_slice_create(&s, base, &never_runs, nullptr);
    if (status != COSPACE_OK) {
      refused = status;
      EXPECT_EQ(s, nullptr);
      break;
    }
    made.push_back(s);
  }
#if defined(__SANITIZE_THREAD__)
  EXPECT_EQ(refused, COSPACE_ERROR_EXHAUSTED);
  EXPECT_NE(std::string(cospace_last_error_message()).find("ThreadSanitizer"), std::string::npos);
  EXPECT_GE(made.size(), 6000u);
#else
  EXPECT_EQ(refused, COSPACE_OK);
  EXPECT_EQ(made.size(), 9000u);
#endif
  for (cospace_slice* s : made) EXPECT_EQ(cospace_slice_destroy(s), COSPACE_OK);
  if (!made.empty()) {  // the room comes back
    cospace_slice* again = nullptr;
    EXPECT_EQ(cospace_slice_create(&again, base, &never_runs, nullptr), COSPACE_OK);
    EXPECT_EQ(cospace_slice_destroy(again), COSPACE_OK);
  }
}

}  // namespace
