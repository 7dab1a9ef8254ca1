// Waits the scheduler refuses (a plain cospace::fiber that a task resumed
// must not block its worker) leave nothing behind: no stray wake of the
// task, no value handed to a receiver that has gone, none destroyed twice.
// Also (no refusal): a joiner unwound by shutdown before the task it joins
// takes its waiter back.
#include <cospace/channel.hpp>
#include <cospace/fiber.hpp>
#include <cospace/scheduler.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cospace::scheduler;
using cospace::spawn_options;

// A task, started, that waits until `go` is set by a plain fiber's join
// attempt, so that it ends (on another worker) while that join is refused.
cospace::task<int> racing_task(const std::shared_ptr<std::atomic<bool>>& go) {
  spawn_options anywhere;
  anywhere.migrate = true;
  return cospace::spawn(
      [go] {
        while (!go->load(std::memory_order_relaxed)) cospace::this_fiber::yield();
        return 1;
      },
      anywhere);
}

// Resumes a plain fiber that sets `go` and tries to join `t`; returns
// whether the join was refused (it must be: the fiber is not a task's).
bool refused_join(cospace::task<int>& t, const std::shared_ptr<std::atomic<bool>>& go) {
  bool refused = false;
  cospace::fiber f([&] {
    go->store(true, std::memory_order_relaxed);
    try {
      t.join();
    } catch (const cospace::scheduler_error&) {
      refused = true;
    }
  });
  f.resume();
  return refused;
}

TEST(SchedulerMisuse, ARefusedJoinLeavesNoStrayWake) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  const int rounds = static_cast<int>(cospace::test::scaled(1000, 200));
  std::atomic<int> early{0}, refused{0};
  s.spawn([&] {
     for (int i = 0; i < rounds && early.load() == 0; ++i) {
       auto go = std::make_shared<std::atomic<bool>>(false);
       auto t = racing_task(go);
       cospace::this_fiber::yield();
       if (refused_join(t, go)) ++refused;
       // A real wait after it: had the refused join's waiter been claimed,
       // the task's end would have woken this task, and this returns at once.
       const auto start = std::chrono::steady_clock::now();
       cospace::this_fiber::sleep_for(1ms);
       if (std::chrono::steady_clock::now() - start < 900us) ++early;
     }
   }).join();
  EXPECT_GT(refused.load(), 0) << "no join was refused: the test did not test";
  EXPECT_EQ(early.load(), 0) << "a 1 ms sleep returned early after a refused join";
}

TEST(SchedulerMisuse, AJoinAfterARefusedOneWaitsForItsTask) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  const int rounds = static_cast<int>(cospace::test::scaled(1000, 200));
  std::atomic<int> early{0};
  s.spawn([&] {
     for (int i = 0; i < rounds && early.load() == 0; ++i) {
       auto go = std::make_shared<std::atomic<bool>>(false);
       auto t = racing_task(go);
       cospace::this_fiber::yield();
       refused_join(t, go);
       auto finished = std::make_shared<std::atomic<bool>>(false);
       auto u = cospace::spawn([finished] {
         cospace::this_fiber::sleep_for(1ms);
         finished->store(true);
         return 7;
       });
       EXPECT_EQ(u.join(), 7);
       if (!finished->load()) ++early;
     }
   }).join();
  EXPECT_EQ(early.load(), 0) << "join() returned before its task finished";
}

// A receive refused in a plain fiber while a sender on another worker waits
// to hand over: every value sent arrives once and in order (a receive that
// need not wait, because the sender was there first, is not refused: the
// plain fiber then takes the value itself).
TEST(SchedulerMisuse, ARefusedReceiveLosesNoValue) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  const int values = static_cast<int>(cospace::test::scaled(3000, 300));
  cospace::channel<int> ch;
  spawn_options anywhere;
  anywhere.migrate = true;
  auto sender = s.spawn(
      [&] {
        try {
          for (int i = 0; i < values; ++i) {
            // Now and then late, so that some receives find no sender and are refused.
            if (i % 8 == 0) cospace::this_fiber::sleep_for(20us);
            ch.send(i);
          }
        } catch (const cospace::channel_closed&) {  // the receiver gave up: the test fails below
        }
      },
      anywhere);
  std::atomic<int> refused{0};
  std::atomic<bool> out_of_order{false};
  s.spawn([&] {
     int expected = 0;
     auto take = [&](int v) {
       if (v != expected) out_of_order = true;
       ++expected;
     };
     while (expected < values && !out_of_order.load()) {
       cospace::fiber f([&] {
         try {
           if (const auto v = ch.recv()) take(*v);
         } catch (const cospace::scheduler_error&) {
           ++refused;
         }
       });
       f.resume();
       if (expected == values) break;
       std::optional<int> v;
       if (ch.recv_until(v, std::chrono::steady_clock::now() + 10s) != cospace::channel_status::ok) {
         out_of_order = true;  // a value lost for good: the sender waits for nobody
         break;
       }
       take(*v);
     }
     if (out_of_order.load()) ch.close();
   }).join();
  sender.join();
  EXPECT_GT(refused.load(), 0) << "no receive was refused: the test did not test";
  EXPECT_FALSE(out_of_order.load()) << "a value was lost to a refused receive";
}

// A send refused in a plain fiber that a sliced task resumed: the value a
// sliced task's send would box on the heap stays the caller's, destroyed
// once (each instance counted).
TEST(SchedulerMisuse, ARefusedSendFromASlicedTaskKeepsItsValue) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  if (cospace::test::under_tsan) GTEST_SKIP() << "sliced fibers are refused under ThreadSanitizer";
  static std::atomic<int> alive{0};
  struct counted {
    std::string text;
    explicit counted(std::string t) : text(std::move(t)) { ++alive; }
    counted(counted&& other) noexcept : text(std::move(other.text)) { ++alive; }
    ~counted() { --alive; }
  };
  scheduler s({.threads = 1});
  cospace::channel<counted> ch;  // unbuffered, no receiver: a send would wait
  spawn_options sliced;
  sliced.fiber.stack = cospace::stack_kind::sliced;
  bool refused = false;
  s.spawn(
       [&] {
         cospace::fiber f([&] {
           try {
             ch.send(counted("a value too long for the small-string buffer"));
           } catch (const cospace::scheduler_error&) {
             refused = true;
           }
         });
         f.resume();
       },
       sliced)
      .join();
  EXPECT_TRUE(refused);
  EXPECT_EQ(alive.load(), 0) << "the refused send's value was destroyed twice, or not at all";
}

// One worker: the joined task started first, the joiner after it, so
// shutdown unwinds the joiner first (newest first); it takes its waiter
// back from the task's completion word, and the task, unwound next, finds
// nobody to wake.
TEST(Scheduler, AJoinerUnwoundBeforeItsTaskTakesItsWaiterBack) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  for (unsigned threads : {1u, 2u}) {
    for (int round = 0; round < 20; ++round) {
      std::atomic<int> unwound{0}, started{0}, joining{0};
      cospace::task<> joiner;
      {
        scheduler s({.threads = threads});
        auto sleeper = s.spawn([&] {
          cospace::test::count_on_exit on_exit{unwound};
          ++started;
          cospace::this_fiber::sleep_for(1h);
        });
        while (started.load() == 0) std::this_thread::yield();
        joiner = s.spawn([&, h = std::move(sleeper)]() mutable {
          cospace::test::count_on_exit on_exit{unwound};
          ++joining;
          h.join();
        });
        while (joining.load() == 0) std::this_thread::yield();
        std::this_thread::sleep_for(2ms);  // the joiner parks in join()
        s.shutdown();
        EXPECT_EQ(unwound.load(), 2);
      }
      EXPECT_THROW(joiner.join(), cospace::fiber_cancelled);
    }
  }
}

}  // namespace
