// Channels: unbuffered and buffered semantics, close, range-for, select and
// its fairness, many blocked fibers, misuse.
#include <cospace/channel.hpp>
#include <cospace/scheduler.hpp>
#include <cospace/space.hpp>
#include <cospace/sync.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cospace::channel;
using cospace::channel_status;
using cospace::scheduler;

TEST(Channel, UnbufferedSendWaitsForAReceiver) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  channel<int> ch;
  std::vector<std::string> log;  // one worker: no race
  auto sender = s.spawn([&] {
    log.push_back("send");
    ch.send(7);
    log.push_back("sent");
  });
  auto receiver = s.spawn([&] {
    cospace::this_fiber::yield();
    cospace::this_fiber::yield();
    log.push_back("recv");
    log.push_back("got " + std::to_string(*ch.recv()));
  });
  sender.join();
  receiver.join();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0], "send");
  EXPECT_EQ(log[1], "recv") << "the send did not complete before a receiver came";
}

TEST(Channel, BufferedSendWaitsOnlyWhenFull) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  channel<int> ch(3);
  std::atomic<int> sent{0};
  auto sender = s.spawn([&] {
    for (int i = 0; i < 5; ++i) {
      ch.send(i);
      ++sent;
    }
  });
  auto watcher = s.spawn([&] {
    for (int k = 0; k < 10; ++k) cospace::this_fiber::yield();
    EXPECT_EQ(sent.load(), 3) << "three fit in the buffer, the fourth waits";
    EXPECT_EQ(ch.size(), 3u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(ch.recv(), i) << "FIFO order";
  });
  sender.join();
  watcher.join();
  EXPECT_EQ(ch.capacity(), 3u);
}

TEST(Channel, RangeForEndsWhenClosedAndDrained) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  channel<std::string> ch(4);
  auto producer = s.spawn([&] {
    for (int i = 0; i < 100; ++i) ch.send("m" + std::to_string(i));
    ch.close();
  });
  auto consumer = s.spawn([&] {
    int n = 0;
    for (std::string& m : ch) {
      EXPECT_EQ(m, "m" + std::to_string(n));
      ++n;
    }
    return n;
  });
  producer.join();
  EXPECT_EQ(consumer.join(), 100);
  EXPECT_TRUE(ch.closed());
  EXPECT_EQ(ch.recv(), std::nullopt);
}

TEST(Channel, CloseWakesEveryWaiter) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  channel<int> ch;
  std::atomic<int> receivers_out{0};
  std::atomic<int> senders_refused{0};
  std::vector<cospace::task<>> tasks;
  for (int i = 0; i < 20; ++i)
    tasks.push_back(s.spawn([&] {
      if (!ch.recv()) ++receivers_out;
    }));
  cospace::wait_group started;
  channel<int> other;
  for (int i = 0; i < 20; ++i)
    tasks.push_back(s.spawn([&] {
      try {
        other.send(1);
      } catch (const cospace::channel_closed&) {
        ++senders_refused;
      }
    }));
  std::this_thread::sleep_for(30ms);
  ch.close();
  other.close();
  for (auto& t : tasks) t.join();
  EXPECT_EQ(receivers_out.load(), 20);
  EXPECT_EQ(senders_refused.load(), 20);
}

TEST(Channel, BufferedValuesSurviveClose) {
  channel<int> ch(4);
  ch.send(1);
  ch.send(2);
  ch.close();
  EXPECT_EQ(ch.recv(), 1);
  EXPECT_EQ(ch.recv(), 2);
  EXPECT_EQ(ch.recv(), std::nullopt);
}

TEST(Channel, ThreadsAndFibersShareAChannel) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  channel<int> ch;
  auto t = s.spawn([&] {
    int sum = 0;
    for (int v : ch) sum += v;
    return sum;
  });
  for (int i = 1; i <= 1000; ++i) ch.send(i);  // from the test's own thread
  ch.close();
  EXPECT_EQ(t.join(), 1000 * 1001 / 2);
}

TEST(Channel, PingPongAcrossWorkers) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  channel<int> ping, pong;
  constexpr int rounds = 20000;
  auto a = s.spawn([&] {
    for (int i = 0; i < rounds; ++i) {
      ping.send(i);
      EXPECT_EQ(pong.recv(), i + 1);
    }
  });
  auto b = s.spawn([&] {
    for (int i = 0; i < rounds; ++i) pong.send(*ping.recv() + 1);
  });
  a.join();
  b.join();
}

TEST(Channel, MoveOnlyValues) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  channel<std::unique_ptr<int>> ch;
  auto t = s.spawn([&] { return **ch.recv(); });
  ch.send(std::make_unique<int>(9));
  EXPECT_EQ(t.join(), 9);
}

TEST(Channel, TryAndDeadlines) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  channel<int> ch;
  auto t = s.spawn([&] {
    std::optional<int> out;
    EXPECT_EQ(ch.try_recv(out), channel_status::timeout);
    int v = 5;
    EXPECT_EQ(ch.try_send(v), channel_status::timeout) << "no receiver waits";
    EXPECT_EQ(v, 5) << "a send that did not happen leaves the value";
    const auto start = cospace::clock::now();
    EXPECT_EQ(ch.recv_until(out, start + 20ms), channel_status::timeout);
    EXPECT_GE(cospace::clock::now() - start, 20ms);
    EXPECT_EQ(ch.send_until(v, cospace::clock::now() + 5ms), channel_status::timeout);
    EXPECT_EQ(v, 5);
  });
  t.join();
}

TEST(Channel, ManyFibersBlockedThenReleased) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  // 100,000 fibers parked on one channel at once, then released one value each.
  // TSan: ~8,000 live fibers at most. Guards made by mprotect (qemu-user, kernels before 6.13)
  // cost two VMAs per fiber, and vm.max_map_count (65530) caps a process at ~32,000 of them.
  // ASan: 20,000 (100,000 took 40 s there; the test preset parks 100,000 unsanitised).
  const bool vma_per_guard = cospace::space::global().stats().mode != cospace::protection_mode::guard_install;
  const std::size_t n = cospace::test::scaled(vma_per_guard || cospace::test::under_asan ? 20000 : 100000, 4000);
  scheduler s({.threads = 2});
  channel<int> gate;
  channel<long long> results(n);
  cospace::wait_group parked;
  parked.add(static_cast<std::ptrdiff_t>(n));
  std::vector<cospace::task<>> tasks;
  tasks.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    tasks.push_back(s.spawn([&] {
      parked.done();
      results.send(2LL * *gate.recv());
    }));
  auto releaser = s.spawn([&] {
    parked.wait();
    for (std::size_t i = 0; i < n; ++i) gate.send(static_cast<int>(i));
    long long sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += *results.recv();
    return sum;
  });
  const long long count = static_cast<long long>(n);
  EXPECT_EQ(releaser.join(), count * (count - 1));
  for (auto& t : tasks) t.join();
  EXPECT_EQ(results.size(), 0u);
}

// A sliced task's send that waits keeps its value on the heap meanwhile
// (its stack is elsewhere): each value is still destroyed exactly once,
// whether a receiver takes it or the send times out and gives it back.
TEST(Channel, ASlicedTasksWaitingSendDestroysEachValueOnce) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  if (cospace::test::under_tsan) GTEST_SKIP() << "sliced fibers are refused under ThreadSanitizer";
  static std::atomic<int> alive{0}, destroyed_twice{0};
  struct tracked {
    std::string text;
    bool live = true;
    explicit tracked(std::string t) : text(std::move(t)) { ++alive; }
    tracked(tracked&& other) noexcept : text(std::move(other.text)) { ++alive; }
    ~tracked() {
      if (!live) ++destroyed_twice;
      live = false;
      --alive;
    }
  };
  const std::string text = "a value too long for the small-string buffer";
  std::string received, kept;
  {
    scheduler s({.threads = 1});
    channel<tracked> ch;  // unbuffered: a send waits for its receiver
    cospace::spawn_options sliced;
    sliced.fiber.stack = cospace::stack_kind::sliced;
    auto sender = s.spawn(
        [&] {
          ch.send(tracked(text));  // waits: the receiver comes after
          tracked late(text);
          if (ch.send_until(late, std::chrono::steady_clock::now() + 1ms) == channel_status::timeout)
            kept = late.text;
        },
        sliced);
    auto receiver = s.spawn([&] { received = ch.recv().value().text; });
    sender.join();
    receiver.join();
  }
  EXPECT_EQ(received, text);
  EXPECT_EQ(kept, text) << "a timed-out send did not give its value back";
  EXPECT_EQ(destroyed_twice.load(), 0) << "a value was destroyed twice";
  EXPECT_EQ(alive.load(), 0) << "a value was not destroyed";
}

TEST(Select, TakesTheReadyCase) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  channel<int> a, b(1);
  b.send(4);
  auto t = s.spawn([&] {
    auto ra = a.on_recv();
    auto rb = b.on_recv();
    const std::size_t i = cospace::select(ra, rb);
    EXPECT_EQ(i, 1u);
    EXPECT_EQ(rb.value(), 4);
    EXPECT_FALSE(ra.value().has_value());
  });
  t.join();
}

TEST(Select, WaitsForTheFirstOfSeveral) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  channel<int> a, b;
  channel<std::string> c;
  auto t = s.spawn([&] {
    auto ra = a.on_recv();
    auto rb = b.on_recv();
    auto rc = c.on_recv();
    const std::size_t i = cospace::select(ra, rb, rc);
    EXPECT_EQ(i, 2u);
    EXPECT_EQ(rc.value(), "third");
  });
  std::this_thread::sleep_for(10ms);
  c.send("third");
  t.join();
  // Nothing is left waiting on a or b: a send there finds no receiver.
  int v = 1;
  EXPECT_EQ(a.try_send(v), channel_status::timeout);
  EXPECT_EQ(b.try_send(v), channel_status::timeout);
}

TEST(Select, SendCases) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  channel<int> out;
  auto t = s.spawn([&] {
    auto sa = out.on_send(11);
    EXPECT_EQ(cospace::select(sa), 0u);
  });
  EXPECT_EQ(out.recv(), 11);
  t.join();
}

TEST(Select, TimesOut) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  channel<int> a;
  auto t = s.spawn([&] {
    auto ra = a.on_recv();
    const auto start = cospace::clock::now();
    EXPECT_EQ(cospace::select_for(15ms, ra), std::nullopt);
    EXPECT_GE(cospace::clock::now() - start, 15ms);
    EXPECT_EQ(cospace::try_select(ra), std::nullopt);
  });
  t.join();
  int v = 1;
  EXPECT_EQ(a.try_send(v), channel_status::timeout) << "the timed-out select left no receiver behind";
}

TEST(Select, ClosedReceiveCaseCompletesEmpty) {
  channel<int> a;
  a.close();
  auto ra = a.on_recv();
  EXPECT_EQ(cospace::select(ra), 0u);
  EXPECT_FALSE(ra.value().has_value());
}

TEST(Select, IsFairAmongReadyCases) {
  channel<int> a(1), b(1), c(1);
  int wins[3] = {0, 0, 0};
  constexpr int rounds = 30000;
  for (int r = 0; r < rounds; ++r) {
    int v = 0;
    // Keep every channel ready.
    a.try_send(v), v = 0, b.try_send(v), v = 0, c.try_send(v);
    auto ra = a.on_recv();
    auto rb = b.on_recv();
    auto rc = c.on_recv();
    ++wins[cospace::select(ra, rb, rc)];
  }
  for (int w : wins) {
    EXPECT_GT(w, rounds / 3 - rounds / 20) << wins[0] << " " << wins[1] << " " << wins[2];
    EXPECT_LT(w, rounds / 3 + rounds / 20) << wins[0] << " " << wins[1] << " " << wins[2];
  }
}

TEST(Select, ManySelectorsOneValueEach) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  channel<int> a, b;
  std::atomic<int> got{0};
  std::vector<cospace::task<>> tasks;
  for (int i = 0; i < 200; ++i)
    tasks.push_back(s.spawn([&] {
      auto ra = a.on_recv();
      auto rb = b.on_recv();
      cospace::select(ra, rb);
      ++got;
    }));
  for (int i = 0; i < 100; ++i) {
    a.send(i);
    b.send(i);
  }
  for (auto& t : tasks) t.join();
  EXPECT_EQ(got.load(), 200) << "every value reached exactly one selector";
}

TEST(ChannelMisuse, SendOnAClosedChannelThrows) {
  channel<int> ch(2);
  ch.close();
  EXPECT_THROW(ch.send(1), cospace::channel_closed);
  int v = 3;
  EXPECT_EQ(ch.try_send(v), channel_status::closed);
  EXPECT_EQ(v, 3);
  auto sc = ch.on_send(4);
  EXPECT_THROW(cospace::select(sc), cospace::channel_closed);
}

TEST(ChannelMisuse, CloseTwiceThrows) {
  channel<int> ch;
  ch.close();
  EXPECT_THROW(ch.close(), cospace::channel_closed);
}

TEST(ChannelMisuse, SenderWaitingWhenClosedIsTold) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  channel<int> ch;
  auto t = s.spawn([&] { ch.send(1); });
  std::this_thread::sleep_for(10ms);
  ch.close();
  EXPECT_THROW(t.join(), cospace::channel_closed);
}

TEST(ChannelMisuse, ShutdownUnwindsFibersBlockedOnChannels) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  channel<int> ch;
  std::atomic<int> unwound{0};
  cospace::task<> r, w;
  {
    scheduler s({.threads = 2});
    r = s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      ch.recv();
    });
    channel<int> full(1);
    full.send(0);
    w = s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      full.send(1);
    });
    std::this_thread::sleep_for(30ms);
    s.shutdown();
  }
  EXPECT_EQ(unwound.load(), 2);
  EXPECT_THROW(r.join(), cospace::fiber_cancelled);
  EXPECT_THROW(w.join(), cospace::fiber_cancelled);
  int v = 1;
  EXPECT_EQ(ch.try_send(v), channel_status::timeout) << "the unwound receiver left the channel";
}

}  // namespace
