// Waits the scheduler refuses (a plain cospace::fiber that a task resumed
// must not block its worker) leave nothing behind: no stray wake of the
// task, no value handed to a receiver that has gone, none destroyed twice.
// Also (no refusal): a joiner unwound by shutdown before the task it joins
// takes its waiter back.
#include <cospace/channel.hpp>
#include <cospace/fiber.hpp>
#include <cospace/io.hpp>
#include <cospace/scheduler.hpp>
#include <cospace/sync.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "../support/no_core_dumps.hpp"
#include "sched/scheduler_impl.hpp"
#include "sched/wait.hpp"
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

// Runs `wait` in a plain fiber that the calling task resumes; whether it
// was refused (scheduler_error).
bool refused_in_plain_fiber(const std::function<void()>& wait) {
  bool refused = false;
  cospace::fiber f([&] {
    try {
      wait();
    } catch (const cospace::scheduler_error&) {
      refused = true;
    }
  });
  f.resume();
  return refused;
}

// Whether a sleep of the calling task lasts its time: a waiter of a refused
// wait left published and claimed would have woken the task already (its
// next park returns at once), or, as a timer, wake it early.
bool sleeps_its_time(std::chrono::milliseconds sleep) {
  const auto start = std::chrono::steady_clock::now();
  cospace::this_fiber::sleep_for(sleep);
  return std::chrono::steady_clock::now() - start >= sleep * 9 / 10;
}

TEST(SchedulerMisuse, ARefusedMutexLockPublishesNoWaiter) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  bool refused = false, free_after = false;
  s.spawn([&] {
     cospace::mutex m;
     m.lock();  // the task owns it: the plain fiber's lock would wait
     refused = refused_in_plain_fiber([&] { m.lock(); });
     m.unlock();  // a published waiter would be handed the mutex here
     free_after = m.try_lock();
     if (free_after) m.unlock();
   }).join();
  EXPECT_TRUE(refused);
  EXPECT_TRUE(free_after) << "unlock() handed the mutex to the refused lock's waiter";
}

TEST(SchedulerMisuse, ARefusedConditionVariableWaitPublishesNoWaiterAndKeepsTheMutex) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  bool refused = false, still_owned = false, slept = false;
  s.spawn([&] {
     cospace::mutex m;
     cospace::condition_variable cv;  // its destructor aborts if a waiter was left on it
     refused = refused_in_plain_fiber([&] {
       std::unique_lock<cospace::mutex> lock(m);
       try {
         cv.wait(lock);
       } catch (const cospace::scheduler_error&) {
         still_owned = lock.owns_lock() && !m.try_lock();
         throw;
       }
     });
     cv.notify_one();  // would claim a published waiter: a stray wake of this task
     slept = sleeps_its_time(2ms);
   }).join();
  EXPECT_TRUE(refused);
  EXPECT_TRUE(still_owned) << "the refused wait gave up the mutex";
  EXPECT_TRUE(slept) << "a sleep returned early after a refused condition variable wait";
}

TEST(SchedulerMisuse, ARefusedSelectPublishesNoNodes) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  bool refused = false, handed = false, slept = false;
  s.spawn([&] {
     cospace::channel<int> a, b;  // unbuffered, nobody sends: the select would wait
     refused = refused_in_plain_fiber([&] {
       auto from_a = a.on_recv();
       auto from_b = b.on_recv();
       cospace::select(from_a, from_b);
     });
     int value = 1;
     handed = a.try_send(value) == cospace::channel_status::ok;  // to a node left on `a`?
     slept = sleeps_its_time(2ms);
   }).join();
  EXPECT_TRUE(refused);
  EXPECT_FALSE(handed) << "a send handed its value to the refused select";
  EXPECT_TRUE(slept) << "a sleep returned early after a refused select";
}

TEST(SchedulerMisuse, ARefusedSleepArmsNoTimer) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  bool refused = false, slept = false;
  s.spawn([&] {
     refused = refused_in_plain_fiber([] { cospace::this_fiber::sleep_for(1ms); });
     slept = sleeps_its_time(20ms);  // a timer armed for the refused sleep would fire after 1 ms
   }).join();
  EXPECT_TRUE(refused);
  EXPECT_TRUE(slept) << "a sleep returned early after a refused one";
}

TEST(SchedulerMisuse, ARefusedSocketReadPublishesNoReader) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  namespace io = cospace::io;
  scheduler s({.threads = 1});
  bool refused = false;
  std::error_code after_refusal;
  std::string received;
  s.spawn([&] {
     io::listener l = io::listener::bind(io::address::loopback(0));
     io::socket client = io::socket::connect(l.local_address(), io::after(5s));
     io::socket server = l.accept(io::after(5s));
     char buffer[16];
     refused = refused_in_plain_fiber([&] { server.read_some(buffer, sizeof buffer, io::after(5s)); });
     // A reader left published would make this EBUSY, not a timeout.
     server.read_some(buffer, sizeof buffer, after_refusal, io::after(20ms));
     client.write_all("ping", io::after(5s));
     const std::size_t n = server.read_some(buffer, sizeof buffer, io::after(5s));
     received.assign(buffer, n);
   }).join();
  EXPECT_TRUE(refused);
  EXPECT_EQ(after_refusal, std::error_code(ETIMEDOUT, std::system_category()));
  EXPECT_EQ(received, "ping");
}

// A wait in a destructor that runs while shutdown unwinds its fiber is
// refused with a diagnostic exit (refuse_park): the fiber could never be
// woken, and its worker must go on unwinding the others.
TEST(SchedulerDeathTest, AWaitInADestructorAtShutdownIsReported) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        struct waits_on_exit {
          ~waits_on_exit() { cospace::this_fiber::sleep_for(1ms); }
        };
        std::atomic<bool> started{false};
        scheduler s({.threads = 1});
        cospace::spawn_options named;
        named.fiber.name = "waiter";
        s.spawn(
             [&] {
               waits_on_exit on_exit;
               started = true;
               cospace::this_fiber::sleep_for(1h);
             },
             named)
            .detach();
        while (!started.load()) std::this_thread::yield();
        s.shutdown();
      },
      "fiber 'waiter' \\(task [0-9]+\\) blocked while shutdown was unwinding it");
}

// park()'s debug backstop (not in builds with NDEBUG): a waiting call that
// published a waiter without check_parkable() first is reported.
TEST(SchedulerDeathTest, AParkThatSkippedCheckParkableIsReportedInDebugBuilds) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
#ifdef NDEBUG
  GTEST_SKIP() << "the backstop is compiled in debug builds only (this one has NDEBUG)";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        scheduler s({.threads = 1});
        s.spawn([] {
           cospace::fiber f([] {
             cospace::detail::waiter w;  // a wait no check_parkable() guarded
             w.task = cospace::detail::current_task();
             cospace::detail::park(w, cospace::detail::no_deadline);
           });
           f.resume();
         }).join();
      },
      "did not call check_parkable\\(\\) before publishing its waiter");
#endif
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
