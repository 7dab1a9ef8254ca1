// Idle workers: how often they sleep in the kernel and are woken
// (scheduler::idle_stats), that a burst of spawns wakes a sleeping worker
// once, not once per spawn, and that a spawn does wake one.
#include <cospace/scheduler.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>

#include <cospace/sync.hpp>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;

TEST(IdleWorkers, AreWokenAtMostOncePerSleep) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  // One fiber spawns a long burst while the other worker runs what it
  // steals and, whenever it runs dry, sleeps. Each of those sleeps may be
  // ended by one system call; the spawns that come before the sleeper runs
  // again must find it awake (every one of them made a futex_wake before:
  // 230,000 for 10^6 spawns, against 15,000 sleeps).
  const std::size_t spawns = cospace::test::scaled(200'000, 20'000);
  cospace::scheduler s({.threads = 2, .idle_spins = 0});  // no spinning: sleep as often as can be
  std::size_t ran = 0;
  std::atomic<std::size_t> done{0};
  s.spawn([&] {
     cospace::wait_group wg;
     wg.add(spawns);
     for (std::size_t i = 0; i < spawns; ++i) {
       cospace::spawn([&] {
         done.fetch_add(1, std::memory_order_relaxed);
         wg.done();
       }).detach();
     }
     wg.wait();
     ran = done.load();
   }).join();
  std::this_thread::sleep_for(20ms);  // both workers idle: asleep
  s.shutdown();                       // wakes them (one call each)
  const cospace::scheduler_idle_stats stats = s.idle_stats();
  EXPECT_EQ(ran, spawns);
  EXPECT_GT(stats.sleeps, 0u);
  EXPECT_GT(stats.wake_calls, 0u);  // shutdown's at least
  EXPECT_LE(stats.wake_calls, stats.sleeps) << "more wake system calls than sleeps to end";
}

// A spawn from a busy worker wakes a sleeping one to run it: the spawner
// here never yields, so only the other worker can run the child, and only
// if the spawn woke it (no spinning: idle_spins 0). wake_idle_worker skips
// its look at the workers when it counts no sleeper (scheduler_impl's
// `sleepers`); a count that missed this sleeper would leave the child
// waiting for ever.
TEST(IdleWorkers, ASpawnFromABusyWorkerWakesASleepingOne) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::scheduler s({.threads = 2, .idle_spins = 0});
  std::atomic<bool> child_ran{false};
  const bool ran = s.spawn([&] {
                      std::this_thread::sleep_for(20ms);  // the other worker: asleep by now
                      auto child = cospace::spawn([&] { child_ran = true; });
                      const auto give_up = std::chrono::steady_clock::now() + 10s;
                      while (!child_ran.load() && std::chrono::steady_clock::now() < give_up) {
                      }  // busy: this worker cannot run the child
                      const bool seen = child_ran.load();
                      child.join();
                      return seen;
                    }).join();
  EXPECT_TRUE(ran) << "the spawn did not wake the sleeping worker";
  EXPECT_GE(s.idle_stats().wake_calls, 1u);
}

TEST(IdleWorkers, StatsStartAtZeroOnANewScheduler) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::scheduler s({.threads = 1});
  // The worker may have gone to sleep already (more than once, if a signal
  // ended a futex wait); nothing has woken it.
  EXPECT_EQ(s.idle_stats().wake_calls, 0u);
}

}  // namespace
