// Allocations that fail inside the scheduler layer's waiting calls leave no
// spin lock held: each waiting call below is made again and again, its
// first, second, third... allocation made to throw std::bad_alloc, and after
// each failure the locks it took must be free (another thread takes them
// within a few seconds). Every allocation of a wait is made before its
// locks are taken (docs/scheduler.md, "Parking").
//
// This program replaces the global operator new and delete (a per-thread
// countdown arms a failure), so it has its own executable.
#include <cospace/channel.hpp>
#include <cospace/scheduler.hpp>
#include <cospace/sync.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>

#include "sched_test_support.hpp"

namespace {

// Allocations left on this thread before the one that throws (< 0: none throws).
thread_local long t_fail_in = -1;
// Allocations made on this thread (each attempt, failed or not).
thread_local long t_allocations = 0;

void* allocate(std::size_t size, std::size_t alignment) {
  ++t_allocations;
  if (t_fail_in >= 0 && t_fail_in-- == 0) throw std::bad_alloc();
  if (size == 0) size = 1;
  void* p = nullptr;
  if (alignment <= alignof(std::max_align_t)) p = std::malloc(size);
  else if (posix_memalign(&p, alignment, size) != 0) p = nullptr;
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t size) { return allocate(size, 0); }
void* operator new[](std::size_t size) { return allocate(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) { return allocate(size, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return allocate(size, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using namespace std::chrono_literals;

// Runs `touch` (which takes the locks in question) on another thread; false
// if it has not returned within 5 s: a lock is held for good. That thread is
// then left spinning, and what it touches must outlive the process (the
// callers hand it shared handles).
bool locks_free(std::function<void()> touch) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> returned = done->get_future();
  std::thread([touch = std::move(touch), done] {
    touch();
    done->set_value();
  }).detach();
  return returned.wait_for(5s) == std::future_status::ready;
}

// Calls `wait` with its k-th allocation failing, for k = 0, 1, 2... until it
// makes no more allocations than k; after each failure `free` must find the
// locks free. Returns how many failures were injected (0: the test did not
// test), or -1 after a lock was found held.
template <class Wait, class Free>
int fail_each_allocation(Wait wait, Free free) {
  for (int k = 0; k < 64; ++k) {
    bool failed = false;
    t_fail_in = k;
    try {
      wait();
    } catch (const std::bad_alloc&) {
      failed = true;
    }
    t_fail_in = -1;
    if (!failed) return k;
    if (!free()) return -1;
  }
  return 64;
}

// A select over up to 8 cases keeps its per-case arrays in place; over more,
// on the heap, made before the channels are locked.
TEST(AllocationFailure, ASelectThatMustWaitLeavesItsChannelsUnlocked) {
  auto a = std::make_shared<cospace::channel<int>>();
  auto b = std::make_shared<cospace::channel<std::string>>();
  const int failures = fail_each_allocation(
      [&] {
        auto a0 = a->on_recv(), a1 = a->on_recv(), a2 = a->on_recv(), a3 = a->on_recv(), a4 = a->on_recv();
        auto b0 = b->on_recv(), b1 = b->on_recv(), b2 = b->on_recv(), b3 = b->on_recv();
        // Nine cases, nothing sent: the select times out.
        EXPECT_FALSE(cospace::select_for(1ms, a0, a1, a2, a3, a4, b0, b1, b2, b3).has_value());
      },
      [&] { return locks_free([a, b] { (void)(a->size() + b->size()); }); });
  EXPECT_NE(failures, -1) << "a select whose allocation failed left a channel locked";
  EXPECT_NE(failures, 0) << "no allocation failed: the test did not test";
}

TEST(AllocationFailure, ASelectOverAFewChannelsAllocatesNothing) {
  cospace::channel<int> a(1);
  cospace::channel<std::string> b;
  auto from_a = a.on_recv();
  auto from_b = b.on_recv();
  long before = t_allocations;
  EXPECT_FALSE(cospace::select_for(1ms, from_a, from_b).has_value());  // waits, then times out
  EXPECT_EQ(t_allocations - before, 0) << "a select that waited";
  a.send(7);
  before = t_allocations;
  EXPECT_EQ(cospace::select(from_a, from_b), 0u);  // ready at once
  EXPECT_EQ(t_allocations - before, 0) << "a select with a ready case";
  EXPECT_EQ(from_a.value(), 7);
}

// A sliced task keeps what it waits with on the heap (its stack is elsewhere
// meanwhile): a send, a receive and a condition variable wait that must wait.
TEST(AllocationFailure, ASlicedTasksWaitsLeaveTheirLocksFree) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  if (cospace::test::under_tsan) GTEST_SKIP() << "sliced fibers are refused under ThreadSanitizer";
  // Unbuffered, nobody on the other side: a send and a receive wait. One
  // channel each, so that one left locked does not hang the other's test.
  auto to_send = std::make_shared<cospace::channel<std::string>>();
  auto to_recv = std::make_shared<cospace::channel<std::string>>();
  auto m = std::make_shared<cospace::mutex>();
  auto cv = std::make_shared<cospace::condition_variable>();
  int send_failures = 0, recv_failures = 0, wait_failures = 0;
  std::string kept;
  cospace::spawn_options sliced;
  sliced.fiber.stack = cospace::stack_kind::sliced;
  cospace::scheduler s({.threads = 1});
  s.spawn(
       [&] {
         send_failures = fail_each_allocation(
             [&] {
               std::string value = "a value too long for the small-string buffer";
               const auto until = std::chrono::steady_clock::now() + 1ms;
               if (to_send->send_until(value, until) == cospace::channel_status::timeout) kept = value;
             },
             [&] { return locks_free([to_send] { (void)to_send->size(); }); });
         recv_failures = fail_each_allocation(
             [&] {
               std::optional<std::string> v;
               const auto until = std::chrono::steady_clock::now() + 1ms;
               EXPECT_EQ(to_recv->recv_until(v, until), cospace::channel_status::timeout);
             },
             [&] { return locks_free([to_recv] { (void)to_recv->size(); }); });
         wait_failures = fail_each_allocation(
             [&] {
               std::unique_lock<cospace::mutex> lock(*m);
               EXPECT_EQ(cv->wait_for(lock, 1ms), std::cv_status::timeout);
               EXPECT_TRUE(lock.owns_lock());
             },
             [&] {
               return locks_free([m, cv] {
                 cv->notify_all();
                 std::lock_guard<cospace::mutex> lock(*m);
               });
             });
       },
       sliced)
      .join();
  EXPECT_NE(send_failures, -1) << "a sliced task's send whose allocation failed left the channel locked";
  EXPECT_NE(recv_failures, -1) << "a sliced task's receive whose allocation failed left the channel locked";
  EXPECT_NE(wait_failures, -1) << "a sliced task's condition variable wait whose allocation failed left a lock held";
  EXPECT_NE(send_failures, 0) << "no allocation failed: the test did not test";
  EXPECT_NE(recv_failures, 0) << "no allocation failed: the test did not test";
  EXPECT_NE(wait_failures, 0) << "no allocation failed: the test did not test";
  if (send_failures > 0) {
    EXPECT_EQ(kept, "a value too long for the small-string buffer") << "a timed-out send lost its value";
  }
}

// A fiber's timed wait whose timer cannot be made fails with bad_alloc and
// leaves nothing published: a send after it finds no receiver to hand its
// value to.
TEST(AllocationFailure, ATimedWaitWithoutATimerLeavesNoWaiter) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  auto ch = std::make_shared<cospace::channel<int>>();
  int failures = 0;
  bool taken_by_nobody = false;
  cospace::scheduler s({.threads = 1});
  s.spawn([&] {
     failures = fail_each_allocation(
         [&] {
           std::optional<int> v;
           EXPECT_EQ(ch->recv_until(v, std::chrono::steady_clock::now() + 1ms), cospace::channel_status::timeout);
         },
         [&] { return locks_free([ch] { (void)ch->size(); }); });
     int value = 7;
     taken_by_nobody = ch->try_send(value) == cospace::channel_status::ok;
   }).join();
  EXPECT_NE(failures, -1) << "a timed receive whose timer could not be made left the channel locked";
  EXPECT_NE(failures, 0) << "no allocation failed: the test did not test";
  EXPECT_FALSE(taken_by_nobody) << "a failed timed receive left its waiter on the channel";
}

}  // namespace
