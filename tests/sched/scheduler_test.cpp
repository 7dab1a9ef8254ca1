// The scheduler: spawn and join, yield, sleep, threads, shutdown, misuse.
#include <cospace/scheduler.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <cospace/channel.hpp>
#include <cospace/context.h>
#include <cospace/sync.hpp>

#include <time.h>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cospace::scheduler;
using cospace::scheduler_options;
using cospace::spawn_options;

TEST(Scheduler, SpawnAndJoinReturnsTheResult) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s;
  auto t = s.spawn([] { return 6 * 7; });
  EXPECT_EQ(t.join(), 42);
  auto text = s.spawn([] { return std::string("fiber"); });
  EXPECT_EQ(text.join(), "fiber");
}

TEST(Scheduler, JoinRethrowsTheFibersException) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  auto t = s.spawn([]() -> int { throw std::runtime_error("boom"); });
  try {
    t.join();
    FAIL() << "join() did not rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
}

TEST(Scheduler, JoinFromAFiberParksIt) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  auto outer = s.spawn([] {
    auto inner = cospace::spawn([] {
      cospace::this_fiber::yield();
      return 5;
    });
    return inner.join() + 1;
  });
  EXPECT_EQ(outer.join(), 6);
}

TEST(Scheduler, YieldInterleavesFibersOnOneThread) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  std::vector<int> order;  // one worker: no data race
  // Spawned from the worker itself, so both are queued before either runs.
  auto conductor = s.spawn([&] {
    auto body = [&](int who) {
      return [&order, who] {
        for (int i = 0; i < 3; ++i) {
          order.push_back(who);
          cospace::this_fiber::yield();
        }
      };
    };
    auto a = cospace::spawn(body(0));
    auto b = cospace::spawn(body(1));
    a.join();
    b.join();
  });
  conductor.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 0, 1, 0, 1}));
}

TEST(Scheduler, ManyFibersOnEveryWorker) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 4});
  std::atomic<int> sum{0};
  std::vector<cospace::task<>> tasks;
  for (int i = 1; i <= 2000; ++i)
    tasks.push_back(s.spawn([&sum, i] {
      cospace::this_fiber::yield();
      sum += i;
    }));
  for (auto& t : tasks) t.join();
  EXPECT_EQ(sum.load(), 2000 * 2001 / 2);
}

// Parking hands the worker straight to the next task (park()'s direct
// handoff): a ping-pong on one worker must keep its order and values, and a
// fiber that only yields must still get its turns (the handoff never jumps
// the queue, and every 61st round is the worker loop's).
TEST(Scheduler, PingPongOnOneWorkerLetsAYieldingFiberRun) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  cospace::channel<long> ping, pong;
  std::atomic<bool> stop{false};
  std::atomic<long> spins{0};
  auto spinner = s.spawn([&] {
    while (!stop.load()) {
      ++spins;
      cospace::this_fiber::yield();
    }
  });
  auto echo = s.spawn([&] {
    for (long v : ping) pong.send(v + 1);
    pong.close();
  });
  auto driver = s.spawn([&] {
    long sum = 0;
    for (long i = 0; i < 20000; ++i) {
      ping.send(i);
      sum += *pong.recv();
    }
    ping.close();
    stop = true;
    return sum;
  });
  EXPECT_EQ(driver.join(), 20000L * 19999 / 2 + 20000);
  echo.join();
  spinner.join();
  EXPECT_GT(spins.load(), 100);
}

// Spawn and join from a fiber: the joiner's park hands over to the new task
// (made on the spot); its result, exception and order must be unchanged.
TEST(Scheduler, SpawnAndJoinFromAFiberOnOneWorker) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  auto outer = s.spawn([] {
    long sum = 0;
    for (long i = 0; i < 5000; ++i) sum += cospace::spawn([i] { return i; }).join();
    auto failing = cospace::spawn([]() -> int { throw std::runtime_error("inner"); });
    try {
      failing.join();
    } catch (const std::runtime_error&) {
      sum += 1;
    }
    return sum;
  });
  EXPECT_EQ(outer.join(), 5000L * 4999 / 2 + 1);
}

// A task spawned onto an idle worker waits in that worker's one-task slot
// (not under the queue lock); another worker must still be able to steal it
// while the spawner keeps its thread busy without ever blocking.
TEST(Scheduler, ATaskSpawnedByABusyFiberIsStolen) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  auto outer = s.spawn([] {
    std::atomic<long> ran_on{0};
    auto inner = cospace::spawn([&ran_on] { ran_on = cospace::test::kernel_thread_id(); });
    // Busy, never yielding: only the other worker can run `inner`.
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (ran_on.load() == 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    const bool elsewhere = ran_on.load() != 0 && ran_on.load() != cospace::test::kernel_thread_id();
    inner.join();
    return elsewhere;
  });
  EXPECT_TRUE(outer.join());
}

// A finished task's joiner may be switched to at once, skipping the run
// queue, only when nothing else waits there: a fiber that yields in a loop
// must run between every two spawn + join rounds of another on one worker.
TEST(Scheduler, SpawnAndJoinLoopLeavesAYieldingFiberItsTurns) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  std::atomic<bool> stop{false};
  std::atomic<long> turns{0};
  auto yielder = s.spawn([&] {
    while (!stop.load()) {
      ++turns;
      cospace::this_fiber::yield();
    }
  });
  auto joiner = s.spawn([&] {
    while (turns.load() == 0) cospace::this_fiber::yield();  // both running
    long starved = 0;
    for (long i = 0; i < 2000; ++i) {
      const long before = turns.load();
      cospace::spawn([] {}).join();
      if (turns.load() == before) ++starved;
    }
    stop = true;
    return starved;
  });
  EXPECT_EQ(joiner.join(), 0);
  yielder.join();
}

// A fiber that parks by handing its worker to another has its park
// committed only when that other fiber switches away (worker::uncommitted).
// A wake from another thread in between must not be lost: here the fiber
// handed over to keeps the worker busy until a plain thread has woken the
// parked one, then ends.
TEST(Scheduler, AWakeFromAThreadWhileTheParkIsDeferredIsNotLost) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  cospace::channel<int> to_b, to_a;
  std::atomic<bool> b_runs{false}, sent{false};
  auto b = s.spawn([&] {
    to_b.recv();   // parked first, so that A's park hands over to it
    b_runs = true;  // A has switched out of its park, not committed yet
    while (!sent.load()) std::this_thread::yield();
  });
  auto a = s.spawn([&] {
    int one = 1;
    while (to_b.try_send(one) != cospace::channel_status::ok) cospace::this_fiber::yield();  // until B waits
    return to_a.recv().value();
  });
  while (!b_runs.load()) std::this_thread::yield();
  to_a.send(7);  // claims A, parked with its commit deferred
  sent = true;
  EXPECT_EQ(a.join(), 7);
  b.join();
}

// A fiber that blocks while a task not started yet heads its worker's queue
// must not have that task's fiber made on its own stack (making a region
// stack prefaults 16 KiB below the caller): a fiber on the smallest fixed
// stack spawns and joins, and blocks on a channel with fresh tasks queued.
TEST(Scheduler, BlockingOnASmallStackLeavesFreshTasksToTheLoop) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  spawn_options small;
  small.fiber.stack = cospace::stack_kind::fixed;
  // 16 KiB (the smallest a fixed stack may be), or room for the ucontext
  // backend's 32 KiB minimum (there the test only checks the outcome).
  small.fiber.fixed_size = std::max<std::size_t>(16 * 1024, 2 * cospace_context_min_stack());
  auto outer = s.spawn(
      [] {
        long sum = 0;
        for (long i = 0; i < 100; ++i) sum += cospace::spawn([i] { return i; }).join();
        cospace::channel<long> c;
        for (long i = 0; i < 10; ++i) cospace::spawn([&c, i] { c.send(i); }).detach();
        for (int i = 0; i < 10; ++i) sum += c.recv().value();
        return sum;
      },
      small);
  EXPECT_EQ(outer.join(), 100L * 99 / 2 + 10L * 9 / 2);
}

// Fibers made and ended on every worker at once (their regions carved and
// released side by side in the global space), with wakes crossing threads:
// plain threads feed channels whose receivers park by handoff. Meant for
// ThreadSanitizer (the scheduler used to serialise fiber creation).
TEST(Scheduler, FibersMadeAndEndedOnEveryWorkerAtOnce) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 4});
  constexpr int spawners = 8;
  const long rounds = static_cast<long>(cospace::test::scaled(2000, 300));
  cospace::channel<long> feed(4);
  std::vector<cospace::task<long>> tasks;
  for (int k = 0; k < spawners; ++k)
    tasks.push_back(s.spawn([rounds] {
      long sum = 0;
      for (long i = 0; i < rounds; ++i) {
        sum += cospace::spawn([i] {
                 volatile char depth[3000];  // touch a page or so of stack
                 depth[0] = static_cast<char>(i);
                 return static_cast<long>(depth[0] == static_cast<char>(i));
               }).join();
      }
      return sum;
    }));
  auto consumer = s.spawn([&] {
    long sum = 0;
    for (long v : feed) sum += v;
    return sum;
  });
  std::thread producer([&] {
    for (long i = 1; i <= 3000; ++i) feed.send(i);
    feed.close();
  });
  for (auto& t : tasks) EXPECT_EQ(t.join(), rounds);
  producer.join();
  EXPECT_EQ(consumer.join(), 3000L * 3001 / 2);
}

TEST(Scheduler, AStartedFiberStaysOnItsThread) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 4});
  std::atomic<int> moved{0};
  std::vector<cospace::task<>> tasks;
  for (int i = 0; i < 200; ++i)
    tasks.push_back(s.spawn([&] {
      const long first = cospace::test::kernel_thread_id();
      for (int k = 0; k < 20; ++k) {
        cospace::this_fiber::yield();
        cospace::this_fiber::sleep_for(10us);
        if (cospace::test::kernel_thread_id() != first) ++moved;
      }
    }));
  for (auto& t : tasks) t.join();
  EXPECT_EQ(moved.load(), 0);
}

TEST(Scheduler, MigratableFibersRunToCompletion) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 3});
  std::atomic<int> done{0};
  std::vector<cospace::task<>> tasks;
  for (int i = 0; i < 300; ++i)
    tasks.push_back(s.spawn(
        [&] {
          for (int k = 0; k < 10; ++k) cospace::this_fiber::sleep_for(5us);
          ++done;
        },
        spawn_options{.migrate = true}));
  for (auto& t : tasks) t.join();
  EXPECT_EQ(done.load(), 300);
}

TEST(Scheduler, SleepLastsAtLeastItsDuration) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  auto t = s.spawn([] {
    const auto start = cospace::clock::now();
    cospace::this_fiber::sleep_for(20ms);
    return cospace::clock::now() - start;
  });
  const auto slept = t.join();
  EXPECT_GE(slept, 20ms);
  EXPECT_LT(slept, 5s) << "far beyond any scheduler granularity";
}

TEST(Scheduler, SleepersWakeInDeadlineOrder) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  // Each sleeper's deadline counts from its own start, and the starts may be
  // more than 15 ms apart (a fiber's first start is slow under
  // ThreadSanitizer on a loaded machine): the order to expect is that of
  // the deadlines taken, not of the sleep lengths.
  std::vector<std::pair<cospace::clock::time_point, int>> deadlines;
  std::vector<int> order;
  std::vector<cospace::task<>> tasks;
  for (int i : {3, 1, 2})
    tasks.push_back(s.spawn([&deadlines, &order, i] {
      const auto deadline = cospace::clock::now() + i * 15ms;
      deadlines.emplace_back(deadline, i);  // one worker: the sleepers take turns
      cospace::this_fiber::sleep_until(deadline);
      order.push_back(i);
    }));
  for (auto& t : tasks) t.join();
  std::sort(deadlines.begin(), deadlines.end());
  std::vector<int> by_deadline;
  for (const auto& d : deadlines) by_deadline.push_back(d.second);
  EXPECT_EQ(order, by_deadline);
  EXPECT_EQ(order.size(), 3u);
}

TEST(Scheduler, SleepUntilThePastReturnsAtOnce) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  auto t = s.spawn([] {
    cospace::this_fiber::sleep_until(cospace::clock::now() - 1s);
    cospace::this_fiber::sleep_for(-5ms);
    return 1;
  });
  EXPECT_EQ(t.join(), 1);
}

TEST(Scheduler, ShutdownUnwindsBlockedFibers) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  std::atomic<int> destroyed{0};
  std::vector<cospace::task<>> tasks;
  {
    scheduler s({.threads = 2});
    for (int i = 0; i < 50; ++i)
      tasks.push_back(s.spawn([&] {
        cospace::test::count_on_exit guard{destroyed};
        cospace::this_fiber::sleep_for(1h);
      }));
    // Let them all start and block.
    std::this_thread::sleep_for(50ms);
    s.shutdown();
    EXPECT_EQ(destroyed.load(), 50);
  }
  for (auto& t : tasks) EXPECT_THROW(t.join(), cospace::fiber_cancelled);
}

TEST(Scheduler, ShutdownLetsRunnableFibersFinish) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  std::atomic<int> finished{0};
  scheduler s({.threads = 2});
  std::vector<cospace::task<>> tasks;
  for (int i = 0; i < 100; ++i)
    tasks.push_back(s.spawn([&] {
      for (int k = 0; k < 10; ++k) cospace::this_fiber::yield();
      ++finished;
    }));
  s.shutdown();
  int joined = 0;
  for (auto& t : tasks) {
    try {
      t.join();
      ++joined;
    } catch (const cospace::fiber_cancelled&) {
    }
  }
  EXPECT_EQ(joined, finished.load());
  EXPECT_EQ(finished.load(), 100) << "runnable fibers run to completion at shutdown";
}

// CPU time of the whole process, in milliseconds.
double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

TEST(Scheduler, IdleWorkersAndBlockedFibersCostNoCpu) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  cospace::channel<int> never;
  cospace::wait_group started;
  started.add(1000);
  std::vector<cospace::task<>> blocked;
  for (int i = 0; i < 1000; ++i)
    blocked.push_back(s.spawn([&] {
      started.done();
      never.recv();
    }));
  started.wait();
  std::this_thread::sleep_for(100ms);  // all parked by now
  const double before = process_cpu_ms();
  std::this_thread::sleep_for(400ms);
  const double used = process_cpu_ms() - before;
  // Spinning workers would burn ~800 ms of CPU here; sleeping ones almost none.
  EXPECT_LT(used, 200.0) << "idle workers or parked fibers are spinning";
  never.close();
  for (auto& t : blocked) t.join();
}

TEST(Scheduler, DetachedFibersStillRun) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  std::atomic<int> ran{0};
  {
    scheduler s({.threads = 2});
    for (int i = 0; i < 100; ++i) s.spawn([&] { ++ran; }).detach();
    s.spawn([] {}).join();
    s.shutdown();
  }
  EXPECT_EQ(ran.load(), 100);
}

// Counted while alive: a task's result is destroyed exactly once, by
// whoever drops the task's record last (a joiner on the task's own worker,
// the worker, a joiner elsewhere, a thread, a detaching handle).
std::atomic<int> g_results_alive{0};
struct counted_result {
  int value = 0;
  explicit counted_result(int v) : value(v) { g_results_alive.fetch_add(1); }
  counted_result(counted_result&& other) noexcept : value(other.value) { g_results_alive.fetch_add(1); }
  counted_result& operator=(counted_result&&) = delete;
  ~counted_result() { g_results_alive.fetch_sub(1); }
};

TEST(Scheduler, EveryResultIsDestroyedOnceWhoeverJoins) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  for (unsigned threads : {1u, 2u}) {
    scheduler s({.threads = threads});
    const long sum = s.spawn([] {
                        spawn_options own_fiber;
                        own_fiber.fiber.stack = cospace::stack_kind::fixed;
                        spawn_options migrate;
                        migrate.migrate = true;
                        long total = 0;
                        for (int i = 0; i < 300; ++i) {
                          // Ends while its joiner waits: in a reused fiber, in one of its own.
                          total += cospace::spawn([i] { return counted_result(i); }).join().value;
                          total += cospace::spawn([i] { return counted_result(i); }, own_fiber).join().value;
                          // May end before the join (or on the other worker).
                          auto early = cospace::spawn([i] { return counted_result(i); });
                          cospace::this_fiber::yield();
                          total += early.join().value;
                          auto moved = cospace::spawn(
                              [i] {
                                cospace::this_fiber::yield();
                                return counted_result(i);
                              },
                              migrate);
                          total += moved.join().value;
                          cospace::spawn([i] { return counted_result(i); }).detach();
                        }
                        return total;
                      }).join();
    EXPECT_EQ(sum, 4L * (299L * 300 / 2));
    // Joined by a thread, at once or after done() said so.
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(s.spawn([i] { return counted_result(i); }).join().value, i);
      auto polled = s.spawn([i] { return counted_result(i); });
      while (!polled.done()) std::this_thread::yield();
      EXPECT_EQ(polled.join().value, i);
    }
    s.shutdown();
    EXPECT_EQ(g_results_alive.load(), 0) << threads << " worker(s)";
  }
}

// A fiber that joins a blocked one, both unwound by shutdown in either
// order (each worker unwinds its own, newest first): the joiner's waiter
// leaves the joined task before its frame goes, or the joined task's end
// claims it first.
TEST(Scheduler, ShutdownUnwindsJoinersOfBlockedFibers) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  std::atomic<int> unwound{0};
  std::atomic<int> sleeping{0};
  std::vector<cospace::task<>> joiners;
  {
    scheduler s({.threads = 2});
    for (int i = 0; i < 40; ++i) {
      joiners.push_back(s.spawn([&unwound, &sleeping, i] {
        cospace::test::count_on_exit guard{unwound};
        auto sleeper = cospace::spawn([&unwound, &sleeping] {
          cospace::test::count_on_exit inner{unwound};
          ++sleeping;
          cospace::this_fiber::sleep_for(1h);
        });
        // Half let the sleeper start (and block) before they join it.
        if (i % 2 == 0) cospace::this_fiber::yield();
        sleeper.join();
      }));
    }
    // Every fiber started (the joiners still runnable block before shutdown unwinds).
    while (sleeping.load() < 40) std::this_thread::sleep_for(1ms);
    s.shutdown();
    EXPECT_EQ(unwound.load(), 80);
  }
  for (auto& t : joiners) EXPECT_THROW(t.join(), cospace::fiber_cancelled);
}

TEST(SchedulerMisuse, JoinTwiceIsRefused) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  auto t = s.spawn([] { return 1; });
  EXPECT_EQ(t.join(), 1);
  EXPECT_FALSE(t.joinable());
  EXPECT_THROW(t.join(), cospace::scheduler_error);
  cospace::task<int> empty;
  EXPECT_THROW(empty.join(), cospace::scheduler_error);
}

TEST(SchedulerMisuse, SpawnAfterShutdownIsRefused) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  s.shutdown();
  s.shutdown();  // idempotent
  EXPECT_THROW(s.spawn([] {}), cospace::scheduler_error);
}

TEST(SchedulerMisuse, FreeSpawnOutsideAFiberIsRefused) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  EXPECT_THROW(cospace::spawn([] {}), cospace::scheduler_error);
  EXPECT_EQ(cospace::scheduler::current(), nullptr);
}

TEST(SchedulerMisuse, ShutdownFromItsOwnFiberIsRefused) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  auto t = s.spawn([&] {
    EXPECT_EQ(cospace::scheduler::current(), &s);
    s.shutdown();
  });
  EXPECT_THROW(t.join(), cospace::scheduler_error);
}

TEST(SchedulerMisuse, MigratingASlicedFiberIsRefused) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  spawn_options o;
  o.fiber.stack = cospace::stack_kind::sliced;
  o.migrate = true;
  EXPECT_THROW(s.spawn([] {}, o), cospace::scheduler_error);
}

TEST(SchedulerMisuse, BadFiberOptionsEndTheTaskWithFiberError) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  spawn_options o;
  o.fiber.fixed_size = 4096;  // applies to stack_kind::fixed only
  bool ran = false;
  auto bad = s.spawn([&] { ran = true; }, o);
  EXPECT_THROW(bad.join(), cospace::fiber_error);
  EXPECT_FALSE(ran);
  EXPECT_EQ(s.spawn([] { return 3; }).join(), 3) << "the scheduler is unharmed";
}

TEST(Scheduler, FiberOptionsApply) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  spawn_options o;
  std::string name = "worker-fiber";
  o.fiber.name = name;
  o.fiber.stack = cospace::stack_kind::fixed;
  auto t = s.spawn([] { return std::string(cospace::this_fiber::name()); }, o);
  name = "changed after spawn";  // the name was copied
  EXPECT_EQ(t.join(), "worker-fiber");
}

TEST(SchedulerMisuse, TooManyThreadsIsRefused) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  EXPECT_THROW(scheduler({.threads = 100000}), cospace::scheduler_error);
}

TEST(SchedulerMisuse, AFiberJoiningItselfIsRefused) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  cospace::task<> self;
  std::atomic<bool> ready{false};
  auto t = s.spawn([&] {
    while (!ready) cospace::this_fiber::yield();
    EXPECT_THROW(self.join(), cospace::scheduler_error);
  });
  (void)t;
  // The handle must be the fiber's own: hand it over through `self`.
  self = std::move(t);
  ready = true;
  std::this_thread::sleep_for(20ms);
  s.shutdown();
}

}  // namespace

namespace {

TEST(SchedulerMisuse, TheBackendCanStartFibersOnWorkers) {
  if (cospace::test::scheduler_available) {
    EXPECT_NO_THROW(scheduler({.threads = 1}));
    return;
  }
  try {
    scheduler s({.threads = 1});
    FAIL() << "the sjlj backend was accepted";
  } catch (const cospace::scheduler_error& e) {
    EXPECT_NE(std::string(e.what()).find("sjlj"), std::string::npos) << e.what();
  }
}

// A pinned task that parked and handed its worker over has its park
// committed late (worker::uncommitted). Woken from another thread in that
// window, it must still run before tasks queued after the wake: here B, a
// migratable fiber, spawns and joins in a loop after A's wake, and A must
// not wait for those rounds.
TEST(Scheduler, AWakeFromAnotherThreadKeepsItsTurnWhileTheParkIsDeferred) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  cospace::channel<int> to_b, from_thread;
  std::atomic<bool> b_runs{false}, sent{false};
  std::atomic<int> rounds{0};
  auto b = s.spawn(
      [&] {
        to_b.recv();
        b_runs = true;
        while (!sent.load()) std::this_thread::yield();  // holds the worker until A is woken
        for (int i = 0; i < 200; ++i) {
          cospace::spawn([] {}).join();
          ++rounds;
        }
        return 0;
      },
      spawn_options{.migrate = true});
  auto a = s.spawn([&] {
    for (int k = 0; k < 2; ++k) cospace::spawn([] {}).join();  // a kept fiber in the idle cache
    int one = 1;
    while (to_b.try_send(one) != cospace::channel_status::ok) cospace::this_fiber::yield();
    from_thread.recv();  // parks, handing the worker to B: its commit is deferred
    return rounds.load();
  });
  while (!b_runs.load()) std::this_thread::yield();
  from_thread.send(7);  // from this thread, while A's park is still uncommitted
  sent = true;
  EXPECT_EQ(a.join(), 0) << "rounds of B that ran before A, though A was woken first";
  b.join();
}

}  // namespace
