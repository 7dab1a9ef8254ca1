// Task fibers run task after task (src/fiber/reuse.hpp): a task that runs
// in a fiber that ran others before must not be able to tell.
#include <cospace/scheduler.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory_resource>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <cospace/channel.hpp>
#include <cospace/fiber_local.hpp>
#include <cospace/space.hpp>
#include <cospace/sync.hpp>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cospace::scheduler;
using cospace::spawn_options;

std::uint64_t regions_acquired() { return cospace::space::global().stats().regions_acquired; }
std::size_t live_regions() { return cospace::space::global().stats().live_regions; }

// Counts its destructions: a fiber-local of this type shows when the
// fiber-locals of a task ended.
std::atomic<int> g_trackers_ended{0};
struct tracker {
  int value = 0;
  ~tracker() { g_trackers_ended.fetch_add(1, std::memory_order_relaxed); }
};

struct seen {
  std::uint64_t fiber_id = 0;
  std::string name;
  int local_before = -1;
  bool exception_state_clean = false;
};

TEST(SchedulerReuse, AReusedFiberLooksFresh) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  static cospace::fiber_local<int> number;
  static cospace::fiber_local<tracker> tracked;
  constexpr int tasks = 200;
  g_trackers_ended = 0;
  scheduler s({.threads = 1});
  const std::uint64_t acquired_before = regions_acquired();
  const auto all = s.spawn([] {
                      std::vector<seen> out;
                      for (int i = 0; i < tasks; ++i) {
                        const std::string name = "job-" + std::to_string(i);
                        spawn_options options;
                        options.fiber.name = name;
                        out.push_back(cospace::spawn(
                                          [i] {
                                            seen r;
                                            r.fiber_id = cospace::this_fiber::id();
                                            r.name = std::string(cospace::this_fiber::name());
                                            r.local_before = *number;
                                            *number = i + 1;
                                            tracked->value = i;
                                            r.exception_state_clean = std::current_exception() == nullptr &&
                                                                      std::uncaught_exceptions() == 0;
                                            return r;
                                          },
                                          options)
                                          .join());
                        // The fiber-locals ended before join() returned.
                        EXPECT_EQ(g_trackers_ended.load(), i + 1);
                      }
                      return out;
                    }).join();
  std::set<std::uint64_t> ids;
  for (int i = 0; i < tasks; ++i) {
    EXPECT_EQ(all[i].name, "job-" + std::to_string(i));
    EXPECT_EQ(all[i].local_before, 0) << "task " << i << " saw a fiber-local of an earlier task";
    EXPECT_TRUE(all[i].exception_state_clean);
    ids.insert(all[i].fiber_id);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(tasks)) << "fiber ids repeat";
  EXPECT_EQ(ids.count(0), 0u);
  // The fibers were reused: far fewer stacks than tasks were acquired.
  EXPECT_LT(regions_acquired() - acquired_before, static_cast<std::uint64_t>(tasks / 4));
}

TEST(SchedulerReuse, ExceptionsAcrossReuse) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  const std::uint64_t acquired_before = regions_acquired();
  s.spawn([] {
     cospace::channel<int> ch;
     for (int i = 0; i < 100; ++i) {
       switch (i % 4) {
         case 0: {  // throws out of its body: join() rethrows it
           auto t = cospace::spawn([i]() -> int { throw std::runtime_error("task " + std::to_string(i)); });
           try {
             t.join();
             ADD_FAILURE() << "join() did not rethrow";
           } catch (const std::runtime_error& e) {
             EXPECT_EQ(std::string(e.what()), "task " + std::to_string(i));
           }
           break;
         }
         case 1:  // parks inside a catch block, then ends normally
           cospace::spawn([&ch] {
             try {
               throw std::logic_error("caught");
             } catch (const std::logic_error&) {
               ch.send(1);  // parks until the receive below
             }
           }).detach();
           EXPECT_EQ(ch.recv(), 1);
           break;
         default: {  // sees no exception of the tasks before it
           const bool clean = cospace::spawn([] {
                                return std::current_exception() == nullptr && std::uncaught_exceptions() == 0;
                              }).join();
           EXPECT_TRUE(clean) << "task " << i;
           break;
         }
       }
     }
   }).join();
  // A task that threw, or parked inside a catch block, leaves its fiber fit
  // for the next: the 100 tasks ran in a few fibers (without reuse: 101).
  EXPECT_LT(regions_acquired() - acquired_before, 50u) << "fibers were not reused";
}

// A detached task's result is destroyed when the scheduler drops the task,
// after the task's fiber has moved on to another job. That destructor must
// run as the worker loop's (as when fibers were not reused), not inside the
// next job's fiber: it would set that job's fiber-locals, or block a fiber
// that is handing over to another.
static cospace::fiber_local<int> g_result_local;
struct sets_local_when_destroyed {
  bool live = true;
  sets_local_when_destroyed() = default;
  sets_local_when_destroyed(sets_local_when_destroyed&& other) noexcept { other.live = false; }
  ~sets_local_when_destroyed() {
    if (live) *g_result_local = 99;
  }
};
struct blocks_when_destroyed {
  bool live = true;
  blocks_when_destroyed() = default;
  blocks_when_destroyed(blocks_when_destroyed&& other) noexcept { other.live = false; }
  ~blocks_when_destroyed() {
    if (live) cospace::this_fiber::sleep_for(100us);
  }
};

TEST(SchedulerReuse, ADetachedResultIsDestroyedOutsideTheNextJob) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  // The ended task's fiber runs the next queued task right away.
  const int queued_saw = s.spawn([] {
                            cospace::spawn([] { return sets_local_when_destroyed{}; }).detach();
                            return cospace::spawn([] { return *g_result_local; }).join();
                          }).join();
  EXPECT_EQ(queued_saw, 0) << "a task saw a fiber-local set by an earlier task's result";
  // The ended task's fiber switches straight to a parked task, which keeps it.
  const int parked_saw = s.spawn([] {
                            cospace::channel<int> ch;
                            cospace::spawn([&ch] {
                              ch.send(1);
                              return sets_local_when_destroyed{};
                            }).detach();
                            EXPECT_EQ(ch.recv(), 1);
                            return *g_result_local;
                          }).join();
  EXPECT_EQ(parked_saw, 0) << "a task's fiber-local was set by another task's result";
  // A destructor that blocks.
  const int rounds = s.spawn([] {
                        int done = 0;
                        for (int i = 0; i < 50; ++i) {
                          cospace::spawn([] { return blocks_when_destroyed{}; }).detach();
                          done += cospace::spawn([i] { return i; }).join() == i ? 1 : 0;
                        }
                        return done;
                      }).join();
  EXPECT_EQ(rounds, 50);
}

TEST(SchedulerReuse, OtherStackOptionsGetTheirOwnFibers) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  static cospace::fiber_local<int> number;
  scheduler s({.threads = 1});
  s.spawn([] {
     std::vector<spawn_options> kinds(4);
     kinds[1].fiber.stack = cospace::stack_kind::fixed;
     kinds[1].fiber.fixed_size = 64 * 1024;
     kinds[2].fiber.max_stack = 256 * 1024;
     if (!cospace::test::under_tsan) kinds[3].fiber.stack = cospace::stack_kind::sliced;
     for (int round = 0; round < 20; ++round) {
       for (const spawn_options& options : kinds) {
         const int before = cospace::spawn(
                                [] {
                                  const int was = *number;
                                  *number = 7;
                                  return was;
                                },
                                options)
                                .join();
         EXPECT_EQ(before, 0);
       }
     }
     // A name too long for a fiber is refused even when an idle fiber could take the task.
     spawn_options long_name;
     const std::string text(300, 'x');
     long_name.fiber.name = text;
     EXPECT_THROW(cospace::spawn([] {}, long_name).join(), cospace::fiber_error);
   }).join();
}

TEST(SchedulerReuse, MigratableTasksOnTwoWorkers) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  static cospace::fiber_local<int> number;
  scheduler s({.threads = 2});
  std::atomic<int> dirty{0};
  std::vector<cospace::task<std::uint64_t>> tasks;
  for (int i = 0; i < 2000; ++i) {
    tasks.push_back(s.spawn(
        [&dirty] {
          if (*number != 0) dirty.fetch_add(1);
          *number = 1;
          cospace::this_fiber::yield();  // may come back on the other worker
          return cospace::this_fiber::id();
        },
        spawn_options{.migrate = (i % 2) == 0}));
  }
  std::set<std::uint64_t> ids;
  for (auto& t : tasks) ids.insert(t.join());
  EXPECT_EQ(dirty.load(), 0);
  EXPECT_EQ(ids.size(), tasks.size());
}

// 1,000,000 spawns, in waves: the stacks in use stay bounded by what runs
// at once plus the workers' idle fibers, and all of them are given back
// once the scheduler stops.
TEST(SchedulerReuse, AMillionSpawnsInBoundedMemory) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  const std::size_t total = cospace::test::scaled(1000000, 20000);
  constexpr std::size_t wave = 1000;
  const std::size_t live_before = live_regions();
  std::size_t most_live = 0;
  const std::uint64_t acquired_before = regions_acquired();
  {
    scheduler s({.threads = 2});
    most_live = s.spawn([total] {
                   std::size_t most = 0;
                   for (std::size_t done = 0; done < total; done += wave) {
                     cospace::wait_group wg;
                     wg.add(static_cast<std::ptrdiff_t>(wave));
                     for (std::size_t i = 0; i < wave; ++i) cospace::spawn([&wg] { wg.done(); }).detach();
                     wg.wait();
                     most = std::max(most, live_regions());
                   }
                   return most;
                 }).join();
  }
  // Each worker: the fibers of one wave at most, plus its idle cache; in
  // practice a few, since a finished task's fiber runs the next one.
  EXPECT_LE(most_live - live_before, wave);
  EXPECT_LE(most_live - live_before, 64u);
  // Without reuse every spawn takes a stack of its own. With it most spawns
  // take none; how many do depends on timing (a worker that goes to sleep
  // lets its kept fibers go: 12 % of spawns under qemu-user, 2 workers).
  EXPECT_LT(regions_acquired() - acquired_before, total / 2) << "fibers were not reused";
  EXPECT_EQ(live_regions(), live_before) << "stacks outlived the scheduler";
}

TEST(SchedulerReuse, AnIdleWorkerKeepsNoFibers) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1, .idle_spins = 0});
  const std::size_t live_before = live_regions();
  {
    std::vector<cospace::task<int>> tasks;
    for (int i = 0; i < 50; ++i) tasks.push_back(s.spawn([i] {
      cospace::this_fiber::sleep_for(1ms);  // all 50 have started before any ends
      return i;
    }));
    for (int i = 0; i < 50; ++i) EXPECT_EQ(tasks[i].join(), i);
  }
  // The worker goes to sleep once the queues are empty, and lets its kept
  // fibers go first; then a trim of the space leaves nothing of them.
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (live_regions() != live_before && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(live_regions(), live_before);
  cospace::space::global().trim();
  EXPECT_EQ(cospace::space::global().stats().parked_regions, 0u);
}

}  // namespace
