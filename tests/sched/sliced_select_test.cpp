// select() from sliced fibers: while a sliced task waits its stack holds
// another fiber's bytes, so its waiter, nodes and values live on the heap
// (src/sched/channel.cpp, sliced_select). These tests make the stack be
// reused while the selector waits (several sliced tasks share it) and check
// what each case ends with: the value received, a send value taken or given
// back, each object destroyed exactly once.
#include <cospace/channel.hpp>
#include <cospace/scheduler.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cospace::channel;
using cospace::scheduler;

// A value that counts the live objects and any destroyed twice, with a heap
// buffer (a string too long for the small-string buffer), so a value moved
// through a stack that is overwritten meanwhile would show as garbage.
std::atomic<int> g_alive{0};
std::atomic<int> g_destroyed_twice{0};
struct tracked {
  std::string text;
  bool live = true;
  explicit tracked(std::string t) : text(std::move(t)) { ++g_alive; }
  tracked(tracked&& other) noexcept : text(std::move(other.text)) { ++g_alive; }
  tracked& operator=(tracked&&) = delete;
  ~tracked() {
    if (!live) ++g_destroyed_twice;
    live = false;
    --g_alive;
  }
};

std::string long_text(int i) { return "value number " + std::to_string(i) + ", longer than a small string"; }

cospace::spawn_options sliced_options() {
  cospace::spawn_options o;
  o.fiber.stack = cospace::stack_kind::sliced;
  return o;
}

class SlicedSelect : public ::testing::Test {
 protected:
  void SetUp() override {
    COSPACE_SKIP_WITHOUT_SCHEDULER();
    if (cospace::test::under_tsan) GTEST_SKIP() << "sliced fibers are refused under ThreadSanitizer";
    g_alive = 0;
    g_destroyed_twice = 0;
  }
  void TearDown() override {
    if (IsSkipped()) return;
    EXPECT_EQ(g_destroyed_twice.load(), 0) << "a value was destroyed twice";
    EXPECT_EQ(g_alive.load(), 0) << "a value was not destroyed";
  }
};

// Many sliced selectors wait at once on one shared stack; each gets the
// value meant for it on one of two receive cases, and its send case, never
// taken, keeps its value.
TEST_F(SlicedSelect, ManyWaitingSelectorsEachReceiveTheirValue) {
  constexpr int n = 64;
  std::vector<std::string> got(n), kept(n);
  std::vector<std::size_t> chosen(n, 99);
  {
    scheduler s({.threads = 1});
    std::vector<channel<tracked>> inbox(n);
    std::vector<channel<int>> other(n);
    channel<tracked> never;  // no receiver ever comes
    std::vector<cospace::task<>> selectors;
    for (int i = 0; i < n; ++i) {
      selectors.push_back(s.spawn(
          [&, i] {
            auto r_other = other[i].on_recv();
            auto r_inbox = inbox[i].on_recv();
            auto s_never = never.on_send(tracked(long_text(-i)));
            chosen[i] = cospace::select(r_other, r_inbox, s_never);
            if (r_inbox.value()) got[i] = r_inbox.value()->text;
            // The send case was not chosen: its value is still in the case.
            kept[i] = s_never.value().text;
          },
          sliced_options()));
    }
    auto feeder = s.spawn([&] {
      for (int i = n - 1; i >= 0; --i) inbox[i].send(tracked(long_text(i)));
    });
    feeder.join();
    for (auto& t : selectors) t.join();
  }
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(chosen[i], 1u) << i;
    EXPECT_EQ(got[i], long_text(i)) << i;
    EXPECT_EQ(kept[i], long_text(-i)) << i;
  }
}

// A send case chosen while the sliced selector waits: the receiver gets the
// value, and the other (receive) case is left with nothing.
TEST_F(SlicedSelect, AWaitingSendCaseIsTakenByALateReceiver) {
  std::string received;
  std::size_t chosen = 99;
  bool other_empty = false;
  {
    scheduler s({.threads = 1});
    channel<tracked> out;
    channel<tracked> in;
    auto selector = s.spawn(
        [&] {
          auto r = in.on_recv();
          auto w = out.on_send(tracked(long_text(7)));
          chosen = cospace::select(r, w);
          other_empty = !r.value().has_value();
        },
        sliced_options());
    // Another sliced task runs meanwhile: it overwrites the shared stack.
    auto busy = s.spawn(
        [&] {
          char scribble[4096];
          for (char& c : scribble) c = 'x';
          // The array's address escapes: the compiler must write it, on
          // the stack the selector's slice was saved from.
          asm volatile("" : : "r"(scribble) : "memory");
          cospace::this_fiber::yield();
          received = out.recv().value().text;
          EXPECT_EQ(scribble[100], 'x');
        },
        sliced_options());
    selector.join();
    busy.join();
  }
  EXPECT_EQ(chosen, 1u);
  EXPECT_EQ(received, long_text(7));
  EXPECT_TRUE(other_empty);
}

// A sliced selector that times out, or whose send case's channel is closed
// while it waits, gets its send value back.
TEST_F(SlicedSelect, ATimeoutOrACloseGivesTheSendValueBack) {
  std::string after_timeout, after_close;
  bool timed_out = false, told_closed = false;
  {
    scheduler s({.threads = 1});
    channel<tracked> out;
    channel<int> in;
    auto selector = s.spawn(
        [&] {
          auto r = in.on_recv();
          auto w = out.on_send(tracked(long_text(1)));
          timed_out = cospace::select_for(5ms, r, w) == std::nullopt;
          after_timeout = w.value().text;
          auto w2 = out.on_send(tracked(long_text(2)));
          try {
            cospace::select(w2);
          } catch (const cospace::channel_closed&) {
            told_closed = true;
          }
          after_close = w2.value().text;
        },
        sliced_options());
    auto closer = s.spawn(
        [&] {
          cospace::this_fiber::sleep_for(20ms);
          out.close();
        },
        sliced_options());
    selector.join();
    closer.join();
  }
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(after_timeout, long_text(1));
  EXPECT_TRUE(told_closed);
  EXPECT_EQ(after_close, long_text(2));
}

// A select that completes at once (a case is ready) from a sliced task: its
// send value goes out through the box it was lent to.
TEST_F(SlicedSelect, AReadySendCaseCompletesAtOnce) {
  std::string received;
  {
    scheduler s({.threads = 1});
    channel<tracked> buffered(1);
    auto selector = s.spawn(
        [&] {
          auto w = buffered.on_send(tracked(long_text(3)));
          EXPECT_EQ(cospace::select(w), 0u);
        },
        sliced_options());
    selector.join();
    received = buffered.recv().value().text;
  }
  EXPECT_EQ(received, long_text(3));
}

}  // namespace
