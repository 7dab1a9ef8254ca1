// Synchronisation for fibers: blocking on any of these parks the calling
// scheduled fiber (its worker runs others meanwhile), never its thread. They
// work from plain threads too, which then block as on their std:: namesakes,
// so fibers and threads can share them.
//
// Every wait list is FIFO: a mutex is handed to the longest waiter on
// unlock, notify_one wakes the longest waiter.
#pragma once

#include <cospace/config.h>
#include <cospace/scheduler.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace cospace {

namespace detail {
struct wait_node;
// A lock and a FIFO of parked parties; what every primitive here is built on.
struct wait_list {
  std::atomic<std::uint32_t> locked{0};  // not bool: RISC-V has no inline byte-sized exchange
  wait_node* head = nullptr;
  wait_node* tail = nullptr;
};
}  // namespace detail

// A mutex for fibers and threads. Not recursive: locking it again from its
// owner, or unlocking it from anyone else, throws scheduler_error.
class COSPACE_API mutex {
 public:
  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;
  // Destroying one with waiters is reported and aborts. A locked one with
  // none may go: its owner may be a fiber that ended, which nobody else can
  // unlock it for (SyncMisuse.MutexOwnedByAFiberIsNotTheThreads).
  ~mutex();

  void lock();
  bool try_lock();
  void unlock();

 private:
  friend class condition_variable;
  detail::wait_list list_;
  std::uint64_t owner_ = 0;  // 0: unlocked; a fiber id, or a thread's id with the top bit set
};

class COSPACE_API condition_variable {
 public:
  condition_variable() noexcept = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;
  ~condition_variable();  // with waiters: reported, abort

  void notify_one() noexcept;
  void notify_all() noexcept;

  // `lock` must own its mutex (scheduler_error otherwise). If shutdown
  // unwinds the fiber while it waits, it leaves without the mutex (the
  // unique_lock is released, not unlocked).
  void wait(std::unique_lock<mutex>& lock);
  std::cv_status wait_until(std::unique_lock<mutex>& lock, clock::time_point deadline);

  template <class Predicate>
  void wait(std::unique_lock<mutex>& lock, Predicate ready) {
    while (!ready()) wait(lock);
  }
  template <class Predicate>
  bool wait_until(std::unique_lock<mutex>& lock, clock::time_point deadline, Predicate ready) {
    while (!ready())
      if (wait_until(lock, deadline) == std::cv_status::timeout) return ready();
    return true;
  }
  template <class Rep, class Period>
  std::cv_status wait_for(std::unique_lock<mutex>& lock, std::chrono::duration<Rep, Period> timeout) {
    return wait_until(lock, clock::now() + std::chrono::duration_cast<clock::duration>(timeout));
  }
  template <class Rep, class Period, class Predicate>
  bool wait_for(std::unique_lock<mutex>& lock, std::chrono::duration<Rep, Period> timeout, Predicate ready) {
    return wait_until(lock, clock::now() + std::chrono::duration_cast<clock::duration>(timeout), ready);
  }

 private:
  detail::wait_list list_;
};

// A single-use countdown (as std::latch): wait() returns once the count is 0.
class COSPACE_API latch {
 public:
  // Throws scheduler_error for a negative count.
  explicit latch(std::ptrdiff_t count);
  latch(const latch&) = delete;
  latch& operator=(const latch&) = delete;
  ~latch();

  // Throws scheduler_error when n is negative or larger than the count left.
  void count_down(std::ptrdiff_t n = 1);
  bool try_wait() const noexcept;
  void wait();
  void arrive_and_wait(std::ptrdiff_t n = 1);

 private:
  mutable detail::wait_list list_;
  std::ptrdiff_t count_;
};

// Go's sync.WaitGroup: add() before starting work, done() when each piece
// ends, wait() until the count is back to 0. Reusable.
class COSPACE_API wait_group {
 public:
  wait_group() noexcept = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;
  ~wait_group();

  // Throws scheduler_error if the count would go negative.
  void add(std::ptrdiff_t n = 1);
  void done() { add(-1); }
  void wait();
  std::ptrdiff_t count() const noexcept;

 private:
  mutable detail::wait_list list_;
  std::ptrdiff_t count_ = 0;
};

}  // namespace cospace
