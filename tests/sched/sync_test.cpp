// Mutex, condition variable, latch and wait group: blocking parks the fiber
// (the worker keeps running others), contention across threads, misuse.
#include <cospace/scheduler.hpp>
#include <cospace/sync.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cospace::scheduler;

TEST(Mutex, ContentionAcrossThreads) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 4});
  cospace::mutex m;
  long counter = 0;  // protected by m only: TSan checks the handover
  constexpr int fibers = 64, rounds = 500;
  std::vector<cospace::task<>> tasks;
  for (int i = 0; i < fibers; ++i)
    tasks.push_back(s.spawn([&] {
      for (int k = 0; k < rounds; ++k) {
        std::lock_guard<cospace::mutex> g(m);
        const long seen = counter;
        if (k % 7 == 0) cospace::this_fiber::yield();  // hold it across a switch
        counter = seen + 1;
      }
    }));
  // Plain threads contend too.
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < rounds; ++k) {
        std::lock_guard<cospace::mutex> g(m);
        ++counter;
      }
    });
  for (auto& t : tasks) t.join();
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, long{fibers + 2} * rounds);
}

TEST(Mutex, BlockingParksTheFiberNotTheThread) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  cospace::mutex m;
  std::atomic<bool> other_ran{false};
  m.lock();  // held by the test thread
  auto blocked = s.spawn([&] {
    std::lock_guard<cospace::mutex> g(m);
    return other_ran.load();
  });
  auto other = s.spawn([&] { other_ran = true; });
  other.join();  // runs although the only worker's first fiber is blocked
  m.unlock();
  EXPECT_TRUE(blocked.join());
}

TEST(Mutex, TryLock) {
  cospace::mutex m;
  EXPECT_TRUE(m.try_lock());
  std::thread([&] { EXPECT_FALSE(m.try_lock()); }).join();
  m.unlock();
}

TEST(ConditionVariable, ProducerConsumer) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 3});
  cospace::mutex m;
  cospace::condition_variable cv;
  std::vector<int> queue;
  bool finished = false;
  auto consumer = s.spawn([&] {
    long sum = 0;
    std::unique_lock<cospace::mutex> lock(m);
    for (;;) {
      cv.wait(lock, [&] { return !queue.empty() || finished; });
      if (queue.empty()) return sum;
      sum += queue.back();
      queue.pop_back();
    }
  });
  std::vector<cospace::task<>> producers;
  for (int p = 0; p < 4; ++p)
    producers.push_back(s.spawn([&, p] {
      for (int i = 1; i <= 250; ++i) {
        std::lock_guard<cospace::mutex> g(m);
        queue.push_back(p * 1000 + i);
        cv.notify_one();
      }
    }));
  for (auto& t : producers) t.join();
  {
    std::lock_guard<cospace::mutex> g(m);
    finished = true;
  }
  cv.notify_all();
  long expected = 0;
  for (int p = 0; p < 4; ++p)
    for (int i = 1; i <= 250; ++i) expected += p * 1000 + i;
  EXPECT_EQ(consumer.join(), expected);
}

TEST(ConditionVariable, WaitForTimesOut) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  auto t = s.spawn([] {
    cospace::mutex m;
    cospace::condition_variable cv;
    std::unique_lock<cospace::mutex> lock(m);
    const auto start = cospace::clock::now();
    EXPECT_EQ(cv.wait_for(lock, 10ms), std::cv_status::timeout);
    EXPECT_GE(cospace::clock::now() - start, 10ms);
    EXPECT_TRUE(lock.owns_lock());
    EXPECT_FALSE(cv.wait_for(lock, 1ms, [] { return false; }));
  });
  t.join();
}

TEST(ConditionVariable, NotifyAllWakesEveryone) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  cospace::mutex m;
  cospace::condition_variable cv;
  bool go = false;
  std::atomic<int> woke{0};
  std::vector<cospace::task<>> tasks;
  for (int i = 0; i < 100; ++i)
    tasks.push_back(s.spawn([&] {
      std::unique_lock<cospace::mutex> lock(m);
      cv.wait(lock, [&] { return go; });
      ++woke;
    }));
  std::this_thread::sleep_for(20ms);
  {
    std::lock_guard<cospace::mutex> g(m);
    go = true;
  }
  cv.notify_all();
  for (auto& t : tasks) t.join();
  EXPECT_EQ(woke.load(), 100);
}

TEST(Latch, ReleasesAllAtZero) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  cospace::latch done(10);
  std::atomic<int> passed{0};
  std::vector<cospace::task<>> tasks;
  for (int i = 0; i < 10; ++i)
    tasks.push_back(s.spawn([&] {
      done.arrive_and_wait();
      ++passed;
    }));
  done.wait();  // from a thread
  for (auto& t : tasks) t.join();
  EXPECT_EQ(passed.load(), 10);
  EXPECT_TRUE(done.try_wait());
}

TEST(WaitGroup, WaitsForEveryDone) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  cospace::wait_group wg;
  std::atomic<int> finished{0};
  const int n = static_cast<int>(cospace::test::scaled(10000, 2000));
  auto waiter = s.spawn([&] {
    wg.add(n);
    for (int i = 0; i < n; ++i)
      cospace::spawn([&] {
        cospace::this_fiber::yield();
        ++finished;
        wg.done();
      }).detach();
    wg.wait();
    return finished.load();
  });
  EXPECT_EQ(waiter.join(), n);
  EXPECT_EQ(wg.count(), 0);
  wg.wait();  // already zero: returns at once
}

TEST(SyncMisuse, UnlockingAMutexNotOwned) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::mutex m;
  EXPECT_THROW(m.unlock(), cospace::scheduler_error);
  m.lock();
  std::thread([&] { EXPECT_THROW(m.unlock(), cospace::scheduler_error); }).join();
  EXPECT_THROW(m.lock(), cospace::scheduler_error) << "not recursive";
  m.unlock();
}

TEST(SyncMisuse, MutexOwnedByAFiberIsNotTheThreads) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  cospace::mutex m;
  auto t = s.spawn([&] { m.lock(); });
  t.join();
  EXPECT_THROW(m.unlock(), cospace::scheduler_error) << "the fiber that locked it ended; the thread is not it";
  EXPECT_FALSE(m.try_lock());
}

TEST(SyncMisuse, WaitWithoutTheLock) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::mutex m;
  cospace::condition_variable cv;
  std::unique_lock<cospace::mutex> lock(m, std::defer_lock);
  EXPECT_THROW(cv.wait(lock), cospace::scheduler_error);
}

TEST(SyncMisuse, CountsThatWouldGoNegative) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  EXPECT_THROW(cospace::latch(-1), cospace::scheduler_error);
  cospace::latch l(2);
  EXPECT_THROW(l.count_down(3), cospace::scheduler_error);
  EXPECT_THROW(l.count_down(-1), cospace::scheduler_error);
  cospace::wait_group wg;
  EXPECT_THROW(wg.done(), cospace::scheduler_error);
  wg.add(1);
  EXPECT_THROW(wg.add(-2), cospace::scheduler_error);
  wg.done();
}

TEST(SyncMisuse, ShutdownUnwindsFibersBlockedOnLocks) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::mutex m;
  cospace::wait_group wg;
  wg.add(1);
  std::atomic<int> unwound{0};
  m.lock();
  {
    scheduler s({.threads = 2});
    auto a = s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      std::lock_guard<cospace::mutex> lock(m);
    });
    auto b = s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      wg.wait();
    });
    std::this_thread::sleep_for(30ms);
    s.shutdown();
    EXPECT_THROW(a.join(), cospace::fiber_cancelled);
    EXPECT_THROW(b.join(), cospace::fiber_cancelled);
  }
  EXPECT_EQ(unwound.load(), 2);
  m.unlock();
  EXPECT_TRUE(m.try_lock()) << "the unwound waiter left the mutex's list";
  m.unlock();
  wg.done();
}

}  // namespace
