// The channel's biased lock: who gets the bias, that a revocation never lets
// two threads in at once, and channels that change hands across threads.
#include <cospace/channel.hpp>
#include <cospace/scheduler.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "sched/biased_lock.hpp"
#include "sched_test_support.hpp"

namespace {

using cospace::detail::biased_guard;
using cospace::detail::biased_lock;

// Takes and releases the lock n times on the calling thread.
void take(biased_lock& l, std::uint32_t n) {
  biased_guard g(l);
  for (std::uint32_t i = 0; i < n; ++i) {
    g.lock();
    g.unlock();
  }
}

TEST(BiasedLock, AThreadThatKeepsTakingItBecomesItsOwner) {
  biased_lock l;
  take(l, biased_lock::bias_after - 1);
  EXPECT_FALSE(l.biased_to_caller());
  take(l, 1);
  EXPECT_EQ(l.biased_to_caller(), biased_lock::bias_supported());
  EXPECT_FALSE(l.revoked());

  std::thread other([&] {
    take(l, 1);
    EXPECT_FALSE(l.biased_to_caller());
  });
  other.join();
  EXPECT_FALSE(l.biased_to_caller());
  EXPECT_EQ(l.revoked(), biased_lock::bias_supported()) << "a bias is revoked when another thread takes the lock";

  // Revoked for good: a second long run of one thread does not bias it again.
  take(l, 4 * biased_lock::bias_after);
  EXPECT_FALSE(l.biased_to_caller());
}

TEST(BiasedLock, ThreadsTakingTurnsNeverBiasIt) {
  biased_lock l;
  std::atomic<int> turn{0};
  constexpr int rounds = 2 * biased_lock::bias_after;
  auto player = [&](int me) {
    for (int i = 0; i < rounds; ++i) {
      while (turn.load() != me) std::this_thread::yield();
      take(l, 1);
      EXPECT_FALSE(l.biased_to_caller());
      turn.store(1 - me);
    }
  };
  std::thread a(player, 0), b(player, 1);
  a.join();
  b.join();
  EXPECT_FALSE(l.revoked());
}

// The owner keeps taking the lock while another thread revokes the bias: at
// no point are two threads inside, and no update guarded by it is lost.
TEST(BiasedLock, RevocationNeverLetsTwoThreadsIn) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    biased_lock l;
    long guarded = 0;  // under l
    std::atomic<int> inside{0};
    std::atomic<bool> owner_biased{false};
    std::atomic<bool> overlap{false};
    auto critical = [&](biased_guard& g) {
      g.lock();
      if (inside.fetch_add(1, std::memory_order_relaxed) != 0) overlap = true;
      ++guarded;
      inside.fetch_sub(1, std::memory_order_relaxed);
      g.unlock();
    };
    constexpr long owner_rounds = 40'000, other_rounds = 4'000;
    std::thread owner([&] {
      biased_guard g(l);
      for (long i = 0; i < owner_rounds; ++i) {
        critical(g);
        if (i == biased_lock::bias_after + 1) owner_biased = true;
      }
    });
    while (!owner_biased.load()) std::this_thread::yield();
    std::thread other([&] {
      biased_guard g(l);
      for (long i = 0; i < other_rounds; ++i) critical(g);
    });
    owner.join();
    other.join();
    EXPECT_FALSE(overlap.load()) << "two threads held the lock at once (attempt " << attempt << ")";
    EXPECT_EQ(guarded, owner_rounds + other_rounds) << "attempt " << attempt;
  }
}

// A channel passed to and fro by two fibers of one worker (its lock biased
// to that worker's thread), then used from a plain thread as well, while
// the fibers go on: every value arrives once and in order.
TEST(BiasedLock, ChannelOfOneWorkerThenOfAnotherThread) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::scheduler s({.threads = 1});
  cospace::channel<long> ch(8);
  constexpr long warm = 4 * biased_lock::bias_after, total = 50'000;
  std::atomic<bool> warmed{false};
  auto producer = s.spawn([&] {
    for (long i = 0; i < total; ++i) {
      ch.send(i);
      if (i == warm) warmed = true;
    }
    ch.close();
  });
  std::atomic<long> received{0};
  std::atomic<bool> out_of_order{false};  // each consumer sees rising values
  auto consumer = s.spawn([&] {
    long last = -1;
    for (long v : ch) {
      if (v <= last) out_of_order = true;
      last = v;
      ++received;
      if (v >= warm) cospace::this_fiber::yield();  // leave room for the thread
    }
  });
  while (!warmed.load()) std::this_thread::yield();
  long last = -1, taken = 0;
  while (const auto v = ch.recv()) {  // a plain thread: blocks the thread
    if (*v <= last) out_of_order = true;
    last = *v;
    ++taken;
    ++received;
  }
  producer.join();
  consumer.join();
  EXPECT_FALSE(out_of_order.load());
  EXPECT_EQ(received.load(), total) << "a value was lost or received twice";
  EXPECT_GT(taken, 0) << "the plain thread never received: the test did not cross threads";
}

// Two workers: a channel first used by fibers of one worker, then by fibers
// on both, each sending a known set of values.
TEST(BiasedLock, ChannelSharedAcrossWorkersAfterABias) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  cospace::scheduler s({.threads = 2});
  cospace::channel<long> ch(4);
  constexpr long per_sender = 20'000;
  std::atomic<long> sum{0}, count{0};
  // One fiber alone first: its worker's thread takes the lock often enough
  // to own it.
  s.spawn([&] {
     for (long i = 0; i < 4 * biased_lock::bias_after; ++i) {
       long v = i;
       ASSERT_EQ(ch.try_send(v), cospace::channel_status::ok);
       std::optional<long> out;
       ASSERT_EQ(ch.try_recv(out), cospace::channel_status::ok);
       ASSERT_EQ(out, i);
     }
   }).join();
  std::vector<cospace::task<void>> tasks;
  for (int r = 0; r < 2; ++r)
    tasks.push_back(s.spawn([&] {
      for (long v : ch) {
        sum += v;
        ++count;
      }
    }));
  std::vector<cospace::task<void>> senders;
  for (int k = 0; k < 3; ++k)
    senders.push_back(s.spawn([&, k] {
      for (long i = 0; i < per_sender; ++i) ch.send(k * per_sender + i);
    }));
  for (auto& t : senders) t.join();
  ch.close();
  for (auto& t : tasks) t.join();
  constexpr long n = 3 * per_sender;
  EXPECT_EQ(count.load(), n);
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

}  // namespace
