// Edges of channels and select: close() racing senders, receivers and
// selects on other workers (every value received once or given back, each
// object destroyed once), a select's timeout racing a ready value, one
// channel in two cases of a select, a case's channel closed while the
// select waits, deadlines in the past and at now, capacity 1, and shutdown
// of fibers blocked in sends of values that own resources.
#include <cospace/channel.hpp>
#include <cospace/scheduler.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cospace::test::race_window;
using cospace::channel;
using cospace::channel_status;
using cospace::scheduler;

// Counts live objects; a second destruction of one is caught by its mark.
struct tracked {
  static inline std::atomic<long> live{0};
  static inline std::atomic<long> destroyed_twice{0};
  static constexpr unsigned alive_mark = 0x5a5a5a5a, dead_mark = 0xdeaddead;
  int id = -1;  // -1: moved from
  unsigned mark = alive_mark;

  explicit tracked(int i) noexcept : id(i) { ++live; }
  tracked(tracked&& o) noexcept : id(o.id) {
    o.id = -1;
    ++live;
  }
  tracked& operator=(tracked&& o) noexcept {
    id = o.id;
    o.id = -1;
    return *this;
  }
  tracked(const tracked&) = delete;
  tracked& operator=(const tracked&) = delete;
  ~tracked() {
    if (mark != alive_mark) ++destroyed_twice;
    mark = dead_mark;
    --live;
  }
};

// Which of the ids 0..n-1 came out where; every one must be in exactly one place.
class ledger {
 public:
  explicit ledger(std::size_t n) : received_(n), given_back_(n) {}
  void received(int id) { ++received_.at(static_cast<std::size_t>(id)); }
  void given_back(int id) { ++given_back_.at(static_cast<std::size_t>(id)); }
  // Each id received once or given back once, never both.
  void check() const {
    std::size_t got = 0, back = 0;
    for (std::size_t i = 0; i < received_.size(); ++i) {
      ASSERT_EQ(received_[i] + given_back_[i], 1) << "id " << i << ": received " << received_[i].load()
                                                  << " times, given back " << given_back_[i].load() << " times";
      got += received_[i];
      back += given_back_[i];
    }
    EXPECT_GT(got, 0u);
    std::printf("received %zu, given back %zu\n", got, back);
  }

 private:
  std::vector<std::atomic<int>> received_;
  std::vector<std::atomic<int>> given_back_;
};

// Senders (fibers and a thread, by send(), send_until() and a select's send
// case) and receivers (fibers and a thread, by recv(), recv_until(), a
// select's receive case and range-for) on one channel, closed by a fiber of
// another worker half-way through. A value is received or its send fails
// with closed; a failed send_until or select keeps the value with its caller.
void close_race(std::size_t capacity) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  tracked::live = 0;
  tracked::destroyed_twice = 0;
  constexpr int senders = 6, per_sender = 300, receivers = 4;
  constexpr int total = senders * per_sender;
  ledger book(total);
  {
    scheduler s({.threads = 3});
    channel<tracked> ch(capacity);
    channel<tracked> never;  // the other case of the selects: nobody uses it
    std::atomic<int> received{0};
    auto send_range = [&](int sender) {
      for (int k = 0; k < per_sender; ++k) {
        const int id = sender * per_sender + k;
        switch (k % 3) {
          case 0:
            try {
              ch.send(tracked(id));
            } catch (const cospace::channel_closed&) {
              book.given_back(id);  // send() took it by value: destroyed in there, once
              continue;
            }
            break;
          case 1: {
            tracked v(id);
            const channel_status st = ch.send_until(v, cospace::clock::now() + 10s);
            if (st == channel_status::closed) {
              EXPECT_EQ(v.id, id) << "a send refused as closed keeps its value";
              book.given_back(id);
              continue;
            }
            EXPECT_EQ(st, channel_status::ok);
            EXPECT_EQ(v.id, -1) << "a send that happened moved its value";
            break;
          }
          default: {
            auto out = ch.on_send(tracked(id));
            auto other = never.on_recv();
            try {
              EXPECT_EQ(cospace::select(out, other), 0u);
              EXPECT_EQ(out.value().id, -1);
            } catch (const cospace::channel_closed&) {
              EXPECT_EQ(out.value().id, id) << "a send case refused as closed keeps its value";
              book.given_back(id);
              continue;
            }
          }
        }
      }
    };
    auto receive_all = [&](int style) {
      for (int k = 0;; ++k) {
        std::optional<tracked> v;
        switch ((style + k) % 3) {
          case 0: v = ch.recv(); break;
          case 1: {
            const channel_status st = ch.recv_until(v, cospace::clock::now() + 10s);
            EXPECT_NE(st, channel_status::timeout);
            break;
          }
          default: {
            auto in = ch.on_recv();
            auto other = never.on_recv();
            EXPECT_EQ(cospace::select(in, other), 0u);
            v = std::move(in.value());
          }
        }
        if (!v) return;  // closed and drained
        EXPECT_GE(v->id, 0);
        book.received(v->id);
        ++received;
      }
    };
    std::vector<cospace::task<>> tasks;
    for (int i = 0; i < senders - 1; ++i) tasks.push_back(s.spawn([&, i] { send_range(i); }));
    std::thread sending_thread([&] { send_range(senders - 1); });
    for (int i = 0; i < receivers - 2; ++i) tasks.push_back(s.spawn([&, i] { receive_all(i); }));
    std::thread receiving_thread([&] { receive_all(2); });
    tasks.push_back(s.spawn([&] {  // range-for ends when closed and drained
      for (tracked& v : ch) {
        book.received(v.id);
        ++received;
      }
    }));
    tasks.push_back(s.spawn([&] {
      while (received.load() < total / 2) cospace::this_fiber::yield();
      ch.close();
    }));
    for (auto& t : tasks) t.join();
    sending_thread.join();
    receiving_thread.join();
    EXPECT_TRUE(ch.closed());
    EXPECT_EQ(ch.size(), 0u);
    EXPECT_THROW(ch.send(tracked(0)), cospace::channel_closed);
    EXPECT_THROW(ch.close(), cospace::channel_closed);
  }
  book.check();
  EXPECT_EQ(tracked::live.load(), 0) << "constructions and destructions differ";
  EXPECT_EQ(tracked::destroyed_twice.load(), 0);
}

TEST(Channel, CloseRacingUnbufferedTrafficLosesAndDuplicatesNothing) { close_race(0); }
TEST(Channel, CloseRacingTrafficOfCapacityOneLosesAndDuplicatesNothing) { close_race(1); }
TEST(Channel, CloseRacingBufferedTrafficLosesAndDuplicatesNothing) { close_race(8); }

// A select whose only case is ready just as its deadline passes: it returns
// the value or times out, never both and never neither. The sender, a
// plain thread, sees the same outcome from its side.
TEST(Select, ATimeoutRacingAReadyValueLosesNothing) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  constexpr int rounds = 200;
  int got_it = 0, timed_out = 0;
  for (int round = 0; round < rounds; ++round) {
    channel<int> ch;  // unbuffered: the sender waits for the selector
    const auto deadline = cospace::clock::now() + race_window;
    auto selector = s.spawn([&]() -> std::optional<int> {
      auto in = ch.on_recv();
      if (!cospace::select_until(deadline, in)) return std::nullopt;
      return in.value();
    });
    const auto send_at = deadline - race_window / 3 + (round % 10) * (race_window * 2 / 15);  // both sides of the deadline
    while (cospace::clock::now() < send_at) {
    }
    int v = round;
    const channel_status sent = ch.send_until(v, deadline + 1ms);
    const std::optional<int> received = selector.join();
    if (received) {
      ++got_it;
      ASSERT_EQ(sent, channel_status::ok) << "round " << round;
      ASSERT_EQ(*received, round);
    } else {
      ++timed_out;
      ASSERT_EQ(sent, channel_status::timeout) << "round " << round << ": a value sent to a select that timed out";
      ASSERT_EQ(v, round);
    }
  }
  EXPECT_EQ(got_it + timed_out, rounds);
  std::printf("select received %d, timed out %d of %d rounds\n", got_it, timed_out, rounds);
}

// The same with a buffered channel: a value that the timed-out select did
// not take stays in the buffer.
TEST(Select, ATimeoutRacingABufferedValueLeavesItBuffered) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  constexpr int rounds = 200;
  for (int round = 0; round < rounds; ++round) {
    channel<int> a(1), b(1);
    const auto deadline = cospace::clock::now() + race_window;
    auto selector = s.spawn([&]() -> std::optional<std::size_t> {
      auto ra = a.on_recv();
      auto rb = b.on_recv();
      const auto i = cospace::select_until(deadline, ra, rb);
      if (i) {
        EXPECT_EQ(*i == 0 ? ra.value() : rb.value(), std::optional<int>(round));
      }
      return i;
    });
    const auto send_at = deadline - race_window / 3 + (round % 10) * (race_window * 2 / 15);
    while (cospace::clock::now() < send_at) {
    }
    int v = round;
    ASSERT_EQ((round % 2 == 0 ? a : b).try_send(v), channel_status::ok);
    const std::optional<std::size_t> chosen = selector.join();
    if (chosen) {
      ASSERT_EQ(*chosen, static_cast<std::size_t>(round % 2));
      ASSERT_EQ(a.size() + b.size(), 0u);
    } else {
      std::optional<int> left;
      ASSERT_EQ((round % 2 == 0 ? a : b).try_recv(left), channel_status::ok) << "round " << round;
      ASSERT_EQ(left, std::optional<int>(round));
    }
  }
}

// One channel in two cases of one select.
TEST(Select, OneChannelInTwoCases) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  {
    channel<int> ch(1);
    auto out = ch.on_send(7);
    auto in = ch.on_recv();
    EXPECT_EQ(cospace::select(out, in), 0u) << "empty: only the send can proceed";
    auto out2 = ch.on_send(8);
    auto in2 = ch.on_recv();
    EXPECT_EQ(cospace::select(out2, in2), 1u) << "full: only the receive can proceed";
    EXPECT_EQ(in2.value(), std::optional<int>(7));
    EXPECT_EQ(out2.value(), 8) << "the send case not chosen keeps its value";
    int v = 9;
    ASSERT_EQ(ch.try_send(v), channel_status::ok);
    auto r1 = ch.on_recv();
    auto r2 = ch.on_recv();
    const std::size_t i = cospace::select(r1, r2);
    EXPECT_EQ((i == 0 ? r1 : r2).value(), std::optional<int>(9));
    EXPECT_FALSE((i == 0 ? r2 : r1).value().has_value()) << "one value, one case";
    EXPECT_EQ(ch.size(), 0u);
  }
  {
    channel<int> ch;  // unbuffered: a select never meets itself
    auto out = ch.on_send(1);
    auto in = ch.on_recv();
    EXPECT_FALSE(cospace::try_select(out, in).has_value());
    EXPECT_FALSE(cospace::select_for(2ms, out, in).has_value()) << "its own send case is no partner";
    EXPECT_EQ(out.value(), 1);
  }
  scheduler s({.threads = 2});
  channel<int> ch;
  for (int round = 0; round < 50; ++round) {
    auto selector = s.spawn([&, round] {
      auto out = ch.on_send(round);
      auto in = ch.on_recv();
      const std::size_t i = cospace::select(out, in);
      return i == 0 ? -1 : *in.value();
    });
    if (round % 2 == 0) {
      EXPECT_EQ(ch.recv(), std::optional<int>(round)) << "a receiver takes the select's send case";
      EXPECT_EQ(selector.join(), -1);
    } else {
      ch.send(1000 + round);
      EXPECT_EQ(selector.join(), 1000 + round) << "a sender completes the select's receive case";
    }
  }
}

// A case's channel closed while the select waits, by a fiber of another
// worker or a thread: a receive case completes empty, a send case throws
// and keeps its value.
TEST(Select, ACaseClosedWhileTheSelectWaits) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  tracked::live = 0;
  tracked::destroyed_twice = 0;
  {
    scheduler s({.threads = 2});
    for (int round = 0; round < 40; ++round) {
      channel<tracked> a, b;  // unbuffered, nobody else on them
      std::atomic<bool> selecting{false};
      auto selector = s.spawn([&, round] {
        auto in = a.on_recv();
        auto out = b.on_send(tracked(round));
        selecting = true;
        try {
          const std::size_t i = cospace::select(in, out);
          EXPECT_EQ(i, 0u);
          EXPECT_FALSE(in.value().has_value()) << "a closed receive case delivers nothing";
          return 0;
        } catch (const cospace::channel_closed&) {
          EXPECT_EQ(out.value().id, round) << "a send case refused as closed keeps its value";
          return 1;
        }
      });
      while (!selecting) std::this_thread::yield();
      const bool close_receive_side = round % 2 == 0;
      if (round % 4 < 2) {
        (close_receive_side ? a : b).close();  // maybe before the select parks, maybe after
      } else {
        s.spawn([&] { (close_receive_side ? a : b).close(); }).join();
      }
      EXPECT_EQ(selector.join(), close_receive_side ? 0 : 1) << "round " << round;
    }
  }
  EXPECT_EQ(tracked::live.load(), 0);
  EXPECT_EQ(tracked::destroyed_twice.load(), 0);
}

// Deadlines in the past and at now, on capacity 1 and unbuffered channels,
// from a fiber and from a thread: a ready operation completes, one that
// would wait times out at once and leaves its value.
TEST(Channel, DeadlinesInThePastAndAtNow) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  tracked::live = 0;
  auto edges = [] {
    for (const bool at_now : {false, true}) {
      auto when = [&] { return at_now ? cospace::clock::now() : cospace::clock::now() - 1s; };
      channel<tracked> one(1);
      std::optional<tracked> out;
      EXPECT_EQ(one.recv_until(out, when()), channel_status::timeout) << "empty";
      EXPECT_FALSE(out.has_value());
      tracked v(1);
      EXPECT_EQ(one.send_until(v, when()), channel_status::ok) << "room: done despite the deadline";
      EXPECT_EQ(v.id, -1);
      tracked w(2);
      EXPECT_EQ(one.send_until(w, when()), channel_status::timeout) << "full";
      EXPECT_EQ(w.id, 2) << "a send that timed out keeps its value";
      EXPECT_EQ(one.recv_until(out, when()), channel_status::ok) << "buffered: done despite the deadline";
      EXPECT_EQ(out->id, 1);
      EXPECT_EQ(one.size(), 0u);
      auto in = one.on_recv();
      EXPECT_FALSE(cospace::select_until(when(), in).has_value());
      EXPECT_EQ(one.send_until(w, when()), channel_status::ok);
      auto in2 = one.on_recv();
      EXPECT_EQ(cospace::select_until(when(), in2), std::optional<std::size_t>(0)) << "a ready case wins";
      EXPECT_EQ(in2.value()->id, 2);
      one.close();
      EXPECT_EQ(one.recv_until(out, when()), channel_status::closed);
      EXPECT_EQ(one.send_until(w, when()), channel_status::closed);
      channel<int> none;
      int x = 3;
      EXPECT_EQ(none.send_until(x, when()), channel_status::timeout) << "unbuffered, nobody receives";
      EXPECT_EQ(x, 3);
    }
  };
  edges();  // a thread
  {
    scheduler s({.threads = 1});
    s.spawn(edges).join();
  }
  EXPECT_EQ(tracked::live.load(), 0);
}

// An unbuffered channel's waiting partner makes a past deadline succeed.
TEST(Channel, APartnerWaitingMeetsAPastDeadline) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  channel<int> ch;
  auto receiver = s.spawn([&] { return ch.recv(); });
  auto notifier = s.spawn([] {});  // one worker, FIFO: runs once the receiver has parked
  notifier.join();
  int v = 42;
  EXPECT_EQ(ch.send_until(v, cospace::clock::now() - 1s), channel_status::ok);
  EXPECT_EQ(receiver.join(), std::optional<int>(42));
  auto sender = s.spawn([&] { ch.send(43); });
  s.spawn([] {}).join();
  std::optional<int> out;
  EXPECT_EQ(ch.recv_until(out, cospace::clock::now() - 1s), channel_status::ok);
  EXPECT_EQ(out, std::optional<int>(43));
  sender.join();
}

// Shutdown unwinds fibers blocked in a send (its value, a resource, is
// destroyed once), a receive, a select with a send case and a timed
// select; the channels are clean afterwards.
TEST(ChannelMisuse, ShutdownUnwindsSendsAndSelectsDestroyingEachValueOnce) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  tracked::live = 0;
  tracked::destroyed_twice = 0;
  channel<tracked> a, b(1);
  channel<int> c;
  std::atomic<int> unwound{0};
  {
    int v = 0;
    tracked filler(-2);
    ASSERT_EQ(b.try_send(filler), channel_status::ok);
    scheduler s({.threads = 2});
    std::vector<cospace::task<>> tasks;
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      a.send(tracked(1));
    }));
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      b.send(tracked(2));  // full
    }));
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      c.recv();
    }));
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      auto out = a.on_send(tracked(3));
      auto in = c.on_recv();
      cospace::select(out, in);
    }));
    tasks.push_back(s.spawn([&] {
      cospace::test::count_on_exit g{unwound};
      auto out = b.on_send(tracked(4));
      auto in = c.on_recv();
      cospace::select_for(1h, out, in);
    }));
    s.shutdown();
    for (auto& t : tasks) EXPECT_THROW(t.join(), cospace::fiber_cancelled);
    EXPECT_EQ(c.try_send(v), channel_status::timeout) << "no receiver or select left on c";
  }
  EXPECT_EQ(unwound.load(), 5);
  std::optional<tracked> out;
  EXPECT_EQ(a.try_recv(out), channel_status::timeout) << "no sender or select left on a";
  EXPECT_EQ(b.try_recv(out), channel_status::ok);
  EXPECT_EQ(out->id, -2);
  out.reset();
  EXPECT_EQ(b.try_recv(out), channel_status::timeout) << "no sender or select left on b";
  EXPECT_EQ(tracked::live.load(), 0) << "each value destroyed once";
  EXPECT_EQ(tracked::destroyed_twice.load(), 0);
}

}  // namespace
