// Edges of sync.hpp: a condition variable's timeout racing a notify, a
// waiter unwound by shutdown while it takes its mutex back, misuse that the
// header says is reported, plain threads and fibers on one mutex and
// condition variable, and shutdown of fibers blocked on each primitive.
#include <cospace/scheduler.hpp>
#include <cospace/sync.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cospace::test::race_window;
using cospace::scheduler;

// Holds `m` until `ready()` is true; lets the others run meanwhile.
template <class Ready>
void lock_when(cospace::mutex& m, Ready ready) {
  for (;;) {
    m.lock();
    if (ready()) return;
    m.unlock();
    std::this_thread::yield();
  }
}

// A notify_one that lands at a timed waiter's deadline: either the waiter
// is woken (no_timeout) and the untimed waiter behind it is not, or the
// timer claimed it first and the notify wakes the next waiter instead. A
// notify is never lost on a waiter that timed out.
TEST(ConditionVariable, NotifyOneRacingATimeoutWakesExactlyOneWaiter) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  cospace::mutex m;
  cospace::condition_variable cv;
  constexpr int rounds = 150;
  int timed_won = 0, timed_out = 0;
  for (int round = 0; round < rounds; ++round) {
    int waiting = 0;     // under m
    int posted = 0;      // under m: notifies made
    int second_saw = -1;  // under m: `posted` when the untimed waiter woke
    bool second_timed_out = false;
    const auto deadline = cospace::clock::now() + race_window;
    auto first = s.spawn([&] {
      std::unique_lock<cospace::mutex> lk(m);
      ++waiting;
      return cv.wait_until(lk, deadline);
    });
    lock_when(m, [&] { return waiting == 1; });  // `first` is on the list (it enqueues before unlocking)
    m.unlock();
    auto second = s.spawn([&] {
      std::unique_lock<cospace::mutex> lk(m);
      ++waiting;
      // A generous bound: reached only if the notify was lost.
      second_timed_out = cv.wait_until(lk, cospace::clock::now() + 5s) == std::cv_status::timeout;
      second_saw = posted;
    });
    lock_when(m, [&] { return waiting == 2; });
    m.unlock();
    // The notify lands from a third of the window before the deadline to
    // most of it after (a timer fires a little late: both outcomes occur).
    const auto notify_at = deadline - race_window / 3 + (round % 10) * (race_window * 2 / 15);
    while (cospace::clock::now() < notify_at) {
    }
    {
      std::lock_guard<cospace::mutex> g(m);  // a plain thread notifies fibers
      ++posted;
      cv.notify_one();
    }
    const std::cv_status first_status = first.join();
    if (first_status == std::cv_status::no_timeout) {
      ++timed_won;
      std::lock_guard<cospace::mutex> g(m);
      ++posted;
      cv.notify_one();  // for `second`, which the first notify must not have woken
    } else {
      ++timed_out;
    }
    second.join();
    ASSERT_FALSE(second_timed_out) << "round " << round << ": a notify_one was lost";
    if (first_status == std::cv_status::no_timeout)
      ASSERT_EQ(second_saw, 2) << "round " << round << ": one notify_one woke both waiters";
    else
      ASSERT_EQ(second_saw, 1) << "round " << round;
  }
  EXPECT_EQ(timed_won + timed_out, rounds);
  std::printf("timed waiter: notified %d, timed out %d of %d rounds\n", timed_won, timed_out, rounds);
}

// A waiter woken by a notify that then blocks taking its mutex back, and is
// unwound there by shutdown: it leaves without the mutex, and its
// unique_lock must know (else its destructor unlocks a mutex the fiber does
// not own, which throws from a destructor: std::terminate).
TEST(ConditionVariable, UnwoundWhileRetakingItsMutexLeavesWithoutIt) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::mutex m;
  cospace::condition_variable cv;
  std::atomic<int> unwound{0};
  bool waiting = false;  // under m
  cospace::task<> t;
  {
    scheduler s({.threads = 2});
    t = s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      std::unique_lock<cospace::mutex> lk(m);
      waiting = true;
      cv.wait(lk, [] { return false; });
    });
    lock_when(m, [&] { return waiting; });  // the fiber waits on cv: it gave m up
    cv.notify_one();  // it wakes, and blocks on m, which this thread holds
    s.shutdown();     // runs it until it blocks on m, then unwinds it there
    EXPECT_THROW(t.join(), cospace::fiber_cancelled);
  }
  EXPECT_EQ(unwound.load(), 1);
  m.unlock();  // still this thread's
  EXPECT_TRUE(m.try_lock()) << "the unwound fiber left the mutex's list";
  m.unlock();
}

// As above, but the mutex is handed to the fiber while shutdown unwinds the
// fiber that held it (newest first): the waiter gives it back, once.
TEST(ConditionVariable, UnwoundAfterItsMutexWasHandedToItLeavesItUnlocked) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::mutex m;
  cospace::condition_variable cv;
  std::atomic<int> unwound{0};
  std::atomic<bool> holder_blocked{false};
  cospace::latch never(1);
  bool waiting = false;  // under m
  {
    scheduler s({.threads = 1});
    auto waiter = s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      std::unique_lock<cospace::mutex> lk(m);
      waiting = true;
      cv.wait(lk, [] { return false; });
    });
    auto holder = s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      for (;;) {
        std::unique_lock<cospace::mutex> lk(m);
        if (waiting) {
          cv.notify_one();  // the waiter wakes and waits for m, which this fiber keeps
          holder_blocked = true;
          never.wait();
        }
        lk.unlock();
        cospace::this_fiber::yield();
      }
    });
    s.shutdown();
    EXPECT_TRUE(holder_blocked.load());
    EXPECT_THROW(waiter.join(), cospace::fiber_cancelled);
    EXPECT_THROW(holder.join(), cospace::fiber_cancelled);
  }
  EXPECT_EQ(unwound.load(), 2);
  EXPECT_TRUE(m.try_lock()) << "the mutex was left locked";
  m.unlock();
  never.count_down();
}

// A mutex's misuse says which mistake it was; a fiber's mutex is not
// another fiber's of the same worker.
TEST(SyncMisuse, MutexMisuseMessagesSayWhatWentWrong) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  auto message_of = [](auto call) -> std::string {
    try {
      call();
    } catch (const cospace::scheduler_error& e) {
      return e.what();
    }
    return "(no exception)";
  };
  cospace::mutex m;
  EXPECT_EQ(message_of([&] { m.unlock(); }), "cospace::mutex::unlock: the mutex is not locked");
  scheduler s({.threads = 1});
  cospace::latch locked(1), done(1);
  auto owner = s.spawn([&] {
    m.lock();
    EXPECT_EQ(message_of([&] { m.lock(); }),
              "cospace::mutex::lock: the caller already owns it (it is not recursive)");
    locked.count_down();
    done.wait();
    m.unlock();
  });
  locked.wait();
  auto other = s.spawn([&] { return message_of([&] { m.unlock(); }); });
  EXPECT_EQ(other.join(), "cospace::mutex::unlock: the mutex is locked by another fiber or thread");
  EXPECT_EQ(message_of([&] { m.unlock(); }), "cospace::mutex::unlock: the mutex is locked by another fiber or thread");
  EXPECT_FALSE(m.try_lock());
  done.count_down();
  owner.join();
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

// Runs `wait` (which blocks on a primitive) in a fiber of a one-worker
// scheduler until it has parked, then `destroy` (which destroys the
// primitive) on this thread.
template <class Wait, class Destroy>
void destroy_with_a_waiter(Wait wait, Destroy destroy) {
  scheduler s({.threads = 1});
  s.spawn(wait).detach();
  s.spawn([] {}).join();  // one worker, FIFO: the fiber before it has parked
  destroy();
}

TEST(SyncDeathTest, DestroyingAPrimitiveWithAWaiterIsReported) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto* m = new cospace::mutex;
  EXPECT_DEATH(
      {
        m->lock();
        destroy_with_a_waiter([&] { m->lock(); }, [&] { delete m; });
      },
      "cospace::mutex was destroyed while fibers or threads wait on it");
  EXPECT_DEATH(
      {
        auto* cv = new cospace::condition_variable;
        destroy_with_a_waiter(
            [&] {
              std::unique_lock<cospace::mutex> lk(*m);
              cv->wait(lk);
            },
            [&] { delete cv; });
      },
      "cospace::condition_variable was destroyed while fibers or threads wait on it");
  EXPECT_DEATH(
      {
        auto* wg = new cospace::wait_group;
        wg->add(1);
        destroy_with_a_waiter([&] { wg->wait(); }, [&] { delete wg; });
      },
      "cospace::wait_group was destroyed while fibers or threads wait on it");
  delete m;  // never locked here: the deaths were in child processes
}

// The misuse messages say what went wrong and with which numbers.
TEST(SyncMisuse, CountErrorsNameTheCounts) {
  cospace::latch l(2);
  try {
    l.count_down(3);
    FAIL() << "count_down(3) of 2 did not throw";
  } catch (const cospace::scheduler_error& e) {
    EXPECT_EQ(std::string(e.what()), "cospace::latch::count_down: 3 is negative or more than the 2 left");
  }
  EXPECT_FALSE(l.try_wait()) << "a refused count_down left the count alone";
  l.count_down(2);
  EXPECT_TRUE(l.try_wait());
  EXPECT_THROW(l.count_down(1), cospace::scheduler_error) << "a latch at 0 takes no more";
  l.count_down(0);  // 0 of 0: allowed, as std::latch
  l.wait();

  cospace::wait_group wg;
  wg.add(2);
  try {
    wg.add(-3);
    FAIL() << "add(-3) with 2 left did not throw";
  } catch (const cospace::scheduler_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cospace::wait_group: done() or add(-3) would make the count negative (2 left)");
  }
  EXPECT_EQ(wg.count(), 2);
  wg.done();
  wg.done();
  EXPECT_THROW(wg.done(), cospace::scheduler_error);
  EXPECT_EQ(wg.count(), 0);
  wg.wait();
}

// The usual end of a latch: its last count_down() on one thread, its
// owner seeing it open (try_wait(), or wait()) on another and destroying it
// at once. count_down() must not touch the latch once the count is 0 and
// nobody waits on it. Each round the owner fills the latch's bytes, once
// destroyed, with ones: a lock word that reads as held, so a count_down()
// that takes the lock of the latch that was there spins until the bytes
// are cleared, which the owner does (and counts) if that round's
// count_down() has not returned 200 ms later.
TEST(Latch, DestroyedAsSoonAsItOpensIsNotTouchedAgain) {
  constexpr int rounds = 5000;
  alignas(cospace::latch) unsigned char place[sizeof(cospace::latch)];
  std::atomic<cospace::latch*> current{nullptr};
  std::atomic<int> counted{0};
  std::thread counter([&] {
    for (int round = 0; round < rounds; ++round) {
      cospace::latch* l;
      for (int spins = 1; (l = current.load(std::memory_order_acquire)) == nullptr; ++spins)
        if (spins % 1024 == 0) std::this_thread::yield();
      current.store(nullptr, std::memory_order_relaxed);
      l->count_down();
      counted.store(round + 1, std::memory_order_release);
    }
  });
  int touched = 0;
  for (int round = 0; round < rounds; ++round) {
    auto* l = new (place) cospace::latch(1);
    current.store(l, std::memory_order_release);
    for (int spins = 1; !l->try_wait(); ++spins)
      if (spins % 1024 == 0) std::this_thread::yield();
    l->~latch();
    std::memset(place, 0x01, sizeof place);  // held, and a head that is no node
    const auto give_up = cospace::clock::now() + 200ms;
    for (int spins = 1; counted.load(std::memory_order_acquire) != round + 1; ++spins) {
      if (spins % 1024 == 0) std::this_thread::yield();
      if (spins % 1024 == 0 && cospace::clock::now() > give_up) {
        ++touched;
        std::memset(place, 0, sizeof place);  // unlocked, empty: let it finish
        while (counted.load(std::memory_order_acquire) != round + 1) std::this_thread::yield();
      }
    }
  }
  counter.join();
  EXPECT_EQ(touched, 0) << "count_down() took the lock of a latch destroyed after it opened, in " << touched
                        << " of " << rounds << " rounds";
}

// A wait_group reused: waiters of the second round do not return on the
// first round's zero.
TEST(WaitGroup, ReusedAcrossRoundsWithThreadsAndFibers) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  cospace::wait_group wg;
  constexpr int rounds = 50, workers = 6;
  std::atomic<int> done_in_round{0};
  for (int round = 0; round < rounds; ++round) {
    done_in_round = 0;
    wg.add(workers);
    std::vector<cospace::task<>> tasks;
    for (int i = 0; i < workers / 2; ++i)
      tasks.push_back(s.spawn([&] {
        ++done_in_round;
        wg.done();
      }));
    std::vector<std::thread> threads;
    for (int i = 0; i < workers / 2; ++i)
      threads.emplace_back([&] {
        ++done_in_round;
        wg.done();
      });
    auto fiber_waiter = s.spawn([&] {
      wg.wait();
      return done_in_round.load();
    });
    wg.wait();  // a thread waits too
    EXPECT_EQ(done_in_round.load(), workers);
    EXPECT_EQ(fiber_waiter.join(), workers);
    for (auto& t : tasks) t.join();
    for (auto& t : threads) t.join();
    ASSERT_EQ(wg.count(), 0);
  }
}

// Plain threads and fibers share a mutex and a condition variable: a
// bounded queue of one slot, each side producing for the other.
TEST(ConditionVariable, ThreadsAndFibersShareAMutexAndACondition) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  cospace::mutex m;
  cospace::condition_variable cv;
  int slot = 0;  // under m: 0 empty
  long sum = 0;  // under m
  constexpr int per_producer = 400, producers = 4;
  auto produce = [&](int base) {
    for (int i = 1; i <= per_producer; ++i) {
      std::unique_lock<cospace::mutex> lk(m);
      cv.wait(lk, [&] { return slot == 0; });
      slot = base + i;
      cv.notify_all();
    }
  };
  auto consume = [&](int count) {
    for (int i = 0; i < count; ++i) {
      std::unique_lock<cospace::mutex> lk(m);
      cv.wait(lk, [&] { return slot != 0; });
      sum += slot;
      slot = 0;
      cv.notify_all();
    }
  };
  std::vector<cospace::task<>> tasks;
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    if (p % 2 == 0) tasks.push_back(s.spawn([&, p] { produce(p * 100000); }));
    else threads.emplace_back([&, p] { produce(p * 100000); });
  }
  tasks.push_back(s.spawn([&] { consume(producers * per_producer / 2); }));
  threads.emplace_back([&] { consume(producers * per_producer / 2); });
  for (auto& t : tasks) t.join();
  for (auto& t : threads) t.join();
  long expected = 0;
  for (int p = 0; p < producers; ++p)
    expected += static_cast<long>(p) * 100000 * per_producer + static_cast<long>(per_producer) * (per_producer + 1) / 2;
  EXPECT_EQ(sum, expected);
  EXPECT_EQ(slot, 0);
}

// Shutdown unwinds fibers blocked on a condition variable (with and without
// a deadline), a latch, a wait_group and a sleep: every destructor runs,
// each join says cancelled, and every primitive is usable afterwards.
TEST(SyncMisuse, ShutdownUnwindsFibersBlockedOnEachPrimitive) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::mutex m;
  cospace::condition_variable cv;
  cospace::latch l(1);
  cospace::wait_group wg;
  wg.add(1);
  std::atomic<int> unwound{0};
  std::atomic<int> started{0};
  constexpr int kinds = 5;
  {
    scheduler s({.threads = 2});
    std::vector<cospace::task<>> tasks;
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      std::unique_lock<cospace::mutex> lk(m);
      ++started;
      cv.wait(lk, [] { return false; });
    }));
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      std::unique_lock<cospace::mutex> lk(m);
      ++started;
      cv.wait_for(lk, 1h, [] { return false; });
    }));
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      ++started;
      l.wait();
    }));
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      ++started;
      wg.wait();
    }));
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      ++started;
      cospace::this_fiber::sleep_for(1h);
    }));
    s.shutdown();  // waits until none of them is runnable
    EXPECT_EQ(started.load(), kinds);
    for (auto& t : tasks) EXPECT_THROW(t.join(), cospace::fiber_cancelled);
  }
  EXPECT_EQ(unwound.load(), kinds);
  EXPECT_TRUE(m.try_lock()) << "the condition variable's waiters left without the mutex";
  m.unlock();
  cv.notify_all();  // nobody left on its list (its destructor would abort otherwise)
  l.count_down();
  l.wait();
  wg.done();
  wg.wait();
}

}  // namespace
