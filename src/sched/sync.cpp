// Mutex, condition variable, latch and wait group on wait lists
// (wait_list.hpp): each keeps its state under its list's lock.
#include <cospace/sync.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "scheduler_impl.hpp"
#include "space/spin_lock.hpp"
#include "wait_list.hpp"

namespace cospace {
namespace {

using detail::list_guard;
using detail::wait_list;
using detail::wake_reason;
using detail::wake_token;

// Who is calling: the running fiber, else the thread.
std::uint64_t self() noexcept {
  if (const std::uint64_t fiber = this_fiber::id(); fiber != 0) return fiber;
  return (std::uint64_t{1} << 63) | static_cast<std::uint64_t>(detail::this_thread_id());
}

// Waits until `count` (guarded by l's lock) is 0.
void wait_for_zero(wait_list& l, const std::ptrdiff_t& count) {
  std::unique_ptr<detail::list_wait> heap;  // a sliced task's (park_on), made with no lock held
  for (;;) {
    detail::lock(l);
    if (count == 0) {
      detail::unlock(l);
      return;
    }
    if (detail::wait_on(l, heap.get()) == wake_reason::none) heap = std::make_unique<detail::list_wait>();
  }
}

void die_if_waited_on(const wait_list& l, const char* what) noexcept {
  if (l.head != nullptr) {
    std::fprintf(stderr, "cospace: a %s was destroyed while fibers or threads wait on it\n", what);
    std::fflush(stderr);
    std::abort();
  }
}

}  // namespace

// --- mutex -----------------------------------------------------------------

mutex::~mutex() { die_if_waited_on(list_, "cospace::mutex"); }

void mutex::lock() {
  const std::uint64_t me = self();
  std::unique_ptr<detail::list_wait> heap;  // a sliced task's (park_on), made with no lock held
  for (;;) {
    detail::lock(list_);
    if (owner_ == 0) {
      owner_ = me;
      detail::unlock(list_);
      return;
    }
    if (owner_ == me) {
      detail::unlock(list_);
      throw scheduler_error("cospace::mutex::lock: the caller already owns it (it is not recursive)");
    }
    try {
      // unlock() hands it over: owner_ is us
      if (detail::park_on(detail::own_lock{list_}, list_, nullptr, me, detail::no_deadline, [] {},
                          detail::current_task(), heap.get()) != wake_reason::none)
        return;
    } catch (const forced_unwind&) {
      detail::lock(list_);
      const bool handed_over = owner_ == me;
      detail::unlock(list_);
      if (handed_over) unlock();  // handed over just before shutdown unwound us
      throw;
    }
    heap = std::make_unique<detail::list_wait>();
  }
}

bool mutex::try_lock() {
  const std::uint64_t me = self();
  list_guard guard(list_);
  if (owner_ != 0) return false;
  owner_ = me;
  return true;
}

void mutex::unlock() {
  const std::uint64_t me = self();
  wake_token token;
  {
    list_guard guard(list_);
    if (owner_ != me) {
      throw scheduler_error(owner_ == 0 ? "cospace::mutex::unlock: the mutex is not locked"
                                        : "cospace::mutex::unlock: the mutex is locked by another fiber or thread");
    }
    detail::wait_node* next = detail::claim_first(list_, wake_reason::signalled, token);
    owner_ = next != nullptr ? next->tag : 0;  // straight to the longest waiter
  }
  detail::wake(token);
}

// --- condition_variable ----------------------------------------------------

condition_variable::~condition_variable() { die_if_waited_on(list_, "cospace::condition_variable"); }

void condition_variable::notify_one() noexcept {
  wake_token token;
  detail::lock(list_);
  detail::claim_first(list_, wake_reason::signalled, token);
  detail::unlock(list_);
  detail::wake(token);
}

void condition_variable::notify_all() noexcept { detail::wake_all(list_, wake_reason::signalled); }

std::cv_status condition_variable::wait_until(std::unique_lock<mutex>& lock, clock::time_point deadline) {
  if (!lock.owns_lock())
    throw scheduler_error("cospace::condition_variable::wait: the unique_lock does not own its mutex");
  mutex& m = *lock.mutex();
  // Takes the mutex back after the wait. Shutdown may unwind the fiber
  // while it waits for it there too (woken, then blocked on the mutex):
  // mutex::lock() then leaves without it (giving it back if it had just been
  // handed over), so the unique_lock must not own it any more, as after an
  // unwind from the wait itself. Else its destructor unlocks a mutex the
  // fiber does not hold, which throws from a destructor: std::terminate.
  const auto relock = [&] {
    try {
      m.lock();
    } catch (const forced_unwind&) {
      lock.release();
      throw;
    }
  };
  detail::task_record* const me = detail::current_task();
  const auto heap = detail::heap_wait_for(me);  // before the lock (park_on)
  detail::lock(list_);
  wake_reason reason;
  bool given_up = false;  // the mutex, before parking
  try {
    reason = detail::park_on(
        detail::own_lock{list_}, list_, nullptr, 0, deadline,
        [&] {
          m.unlock();
          given_up = true;
        },
        me, heap.get());
  } catch (const forced_unwind&) {
    lock.release();  // the mutex was given up before parking
    throw;
  } catch (...) {  // no memory for the timer: the caller gets its mutex back, as from any wait
    if (given_up) relock();
    throw;
  }
  relock();
  return reason == wake_reason::timeout ? std::cv_status::timeout : std::cv_status::no_timeout;
}

void condition_variable::wait(std::unique_lock<mutex>& lock) { wait_until(lock, detail::no_deadline); }

// --- latch -----------------------------------------------------------------

latch::latch(std::ptrdiff_t count) : count_(count) {
  if (count < 0) throw scheduler_error("cospace::latch: the count must not be negative");
}

latch::~latch() { die_if_waited_on(list_, "cospace::latch"); }

void latch::count_down(std::ptrdiff_t n) {
  std::ptrdiff_t left = 0;
  bool released = false;
  {
    list_guard guard(list_);
    left = count_;
    if (n >= 0 && n <= left) count_ = left - n;
    // Whether anyone is parked, decided under the lock that opens the latch:
    // once it is released, an owner that sees the count at 0 may destroy the
    // latch at once, so the list is touched again only if a waiter is still
    // on it (which keeps it alive: destroying a latch with waiters is an
    // error). As wait_group::add. (Latch.DestroyedAsSoonAsItOpensIsNotTouchedAgain)
    released = n >= 0 && n == left && list_.head != nullptr;
  }
  if (n < 0 || n > left)  // the message is made with the lock released: nothing allocates under it
    throw scheduler_error("cospace::latch::count_down: " + std::to_string(n) + " is negative or more than the " +
                          std::to_string(left) + " left");
  if (released) detail::wake_all(list_, wake_reason::signalled);
}

bool latch::try_wait() const noexcept {
  list_guard guard(list_);
  return count_ == 0;
}

void latch::wait() { wait_for_zero(list_, count_); }

void latch::arrive_and_wait(std::ptrdiff_t n) {
  count_down(n);
  wait();
}

// --- wait_group ------------------------------------------------------------

wait_group::~wait_group() { die_if_waited_on(list_, "cospace::wait_group"); }

void wait_group::add(std::ptrdiff_t n) {
  std::ptrdiff_t left = 0;
  bool released = false;
  {
    list_guard guard(list_);
    left = count_;
    if (left + n >= 0) {
      count_ = left + n;
      released = count_ == 0 && list_.head != nullptr;
    }
  }
  if (left + n < 0)  // the message is made with the lock released: nothing allocates under it
    throw scheduler_error("cospace::wait_group: done() or add(" + std::to_string(n) +
                          ") would make the count negative (" + std::to_string(left) + " left)");
  if (released) detail::wake_all(list_, wake_reason::signalled);
}

void wait_group::wait() { wait_for_zero(list_, count_); }

std::ptrdiff_t wait_group::count() const noexcept {
  list_guard guard(list_);
  return count_;
}

}  // namespace cospace
