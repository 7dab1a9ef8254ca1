// Mixed loads on the scheduler, for ThreadSanitizer above all: ping-pong
// pairs of every kind of fiber with wakes from plain threads (parks whose
// commit is deferred, woken from elsewhere), select with timeouts while
// handoffs run (a timer firing on one worker while its fiber resumes on
// another), mutex and condition variable across fibers and a thread,
// spawn/join trees with sleeps. Found the timer race fixed in wait.hpp
// (timer_owner).
#include <cospace/channel.hpp>
#include <cospace/scheduler.hpp>
#include <cospace/sync.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "sched_test_support.hpp"

using namespace std::chrono_literals;
using cospace::scheduler;
using cospace::spawn_options;

namespace {
spawn_options opts(int kind) {
  spawn_options o;
  if (kind == 1) o.migrate = true;
  if (kind == 2 && !cospace::test::under_tsan) o.fiber.stack = cospace::stack_kind::sliced;
  return o;
}
}  // namespace

// Ping-pong pairs of every kind, plus a plain thread that sends to fibers
// (cross-thread wakes while parks are deferred), plus yielders and spawn/join.
TEST(SchedulerStress, MixedPingPongCrossThreadWakes) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  for (unsigned threads : {1u, 2u, 3u}) {
    scheduler s({.threads = threads});
    constexpr int pairs = 6, rounds = 3000;
    std::vector<cospace::task<long>> tasks;
    std::vector<std::unique_ptr<cospace::channel<int>>> chans;
    for (int p = 0; p < pairs; ++p) {
      chans.push_back(std::make_unique<cospace::channel<int>>());
      chans.push_back(std::make_unique<cospace::channel<int>>());
    }
    for (int p = 0; p < pairs; ++p) {
      auto* a = chans[2 * p].get();
      auto* b = chans[2 * p + 1].get();
      tasks.push_back(s.spawn([a, b] {
        long sum = 0;
        for (int i = 0; i < rounds; ++i) {
          a->send(i);
          sum += *b->recv();
        }
        return sum;
      }, opts(p % 3)));
      tasks.push_back(s.spawn([a, b] {
        long sum = 0;
        for (int i = 0; i < rounds; ++i) {
          int v = *a->recv();
          sum += v;
          if (i % 7 == 0) cospace::spawn([] { return 1; }).join();
          if (i % 11 == 0) cospace::this_fiber::yield();
          b->send(v);
        }
        return sum;
      }, opts((p + 1) % 3)));
    }
    // Cross-thread channel: a plain thread sends, fibers receive.
    cospace::channel<int> ext;
    constexpr int ext_n = 20000;
    std::atomic<long> got{0};
    std::vector<cospace::task<long>> recvs;
    for (int k = 0; k < 4; ++k)
      recvs.push_back(s.spawn([&ext, &got] {
        long n = 0;
        while (auto v = ext.recv()) {
          ++n;
          got.fetch_add(1);
        }
        return n;
      }, opts(k % 2)));
    std::thread sender([&] {
      for (int i = 0; i < ext_n; ++i) ext.send(i);
      ext.close();
    });
    const long expect = long(rounds) * (rounds - 1) / 2;
    for (auto& t : tasks) EXPECT_EQ(t.join(), expect);
    sender.join();
    long total = 0;
    for (auto& r : recvs) total += r.join();
    EXPECT_EQ(total, ext_n);
  }
}

// select with short timeouts on a worker whose other fibers keep handing over.
TEST(SchedulerStress, SelectTimeoutsWithHandoffs) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  for (unsigned threads : {1u, 2u}) {
    scheduler s({.threads = threads});
    cospace::channel<int> c1, c2, pa, pb;
    std::atomic<bool> stop{false};
    auto pinger = s.spawn([&] {
      long n = 0;
      while (!stop.load()) {
        pa.send(1);
        pb.recv();
        ++n;
      }
      pa.close();
      return n;
    });
    auto ponger = s.spawn([&] {
      while (auto v = pa.recv()) pb.send(*v);
      return 0;
    });
    std::atomic<int> timeouts{0}, hits{0};
    auto selector = s.spawn([&] {
      for (int i = 0; i < 2000; ++i) {
        auto r1 = c1.on_recv();
        auto r2 = c2.on_recv();
        auto got = cospace::select_for(std::chrono::microseconds(50 + i % 200), r1, r2);
        if (got) ++hits;
        else ++timeouts;
      }
      return 0;
    });
    std::thread feeder([&] {
      for (int i = 0; i < 500; ++i) {
        int v = i;
        c1.send_until(v, cospace::clock::now() + 5ms);
        std::this_thread::sleep_for(100us);
      }
    });
    selector.join();
    stop = true;
    feeder.join();
    pinger.join();
    ponger.join();
    EXPECT_EQ(timeouts.load() + hits.load(), 2000);
  }
}

// Mutex and condition variable ping among pinned and migratable fibers and a thread.
TEST(SchedulerStress, MutexAndCondvarMixed) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  for (unsigned threads : {1u, 2u, 4u}) {
    scheduler s({.threads = threads});
    cospace::mutex m;
    cospace::condition_variable cv;
    long counter = 0;
    constexpr int per = 2000, fibers = 8;
    std::vector<cospace::task<int>> ts;
    for (int f = 0; f < fibers; ++f)
      ts.push_back(s.spawn([&, f] {
        for (int i = 0; i < per; ++i) {
          std::unique_lock<cospace::mutex> l(m);
          ++counter;
          if (i % 5 == 0) cv.notify_one();
          if (i % 13 == 0) cv.wait_for(l, std::chrono::microseconds(20));
        }
        (void)f;
        return 0;
      }, opts(0)));
    std::thread t([&] {
      for (int i = 0; i < per; ++i) {
        std::unique_lock<cospace::mutex> l(m);
        ++counter;
        cv.notify_all();
      }
    });
    for (auto& x : ts) x.join();
    t.join();
    EXPECT_EQ(counter, long(per) * (fibers + 1));
  }
}

// Deep spawn/join trees mixing kinds, with sleeps.
TEST(SchedulerStress, SpawnJoinTreesWithSleeps) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  for (unsigned threads : {1u, 2u, 3u}) {
    scheduler s({.threads = threads});
    struct rec {
      static long go(int depth, int kind) {
        if (depth == 0) {
          if (kind == 1) cospace::this_fiber::sleep_for(std::chrono::microseconds(10));
          return 1;
        }
        auto a = cospace::spawn([=] { return go(depth - 1, (kind + 1) % 3); }, opts(kind));
        auto b = cospace::spawn([=] { return go(depth - 1, (kind + 2) % 3); }, opts((kind + 1) % 3));
        if (depth % 2) cospace::this_fiber::yield();
        return a.join() + b.join();
      }
    };
    std::vector<cospace::task<long>> roots;
    for (int i = 0; i < 4; ++i) roots.push_back(s.spawn([i] { return rec::go(9, i % 3); }, opts(i % 2)));
    for (auto& r : roots) EXPECT_EQ(r.join(), 512);
  }
}
