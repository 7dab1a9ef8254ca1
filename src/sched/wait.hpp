// Blocking without blocking the thread: the one mechanism under channels,
// locks, joins, sleeps and sockets.
//
// A party that must wait puts a `waiter` in the wait list of whatever it waits
// for (under that object's lock), then calls park(). Whoever satisfies the
// wait first *claims* the waiter (one compare-and-swap: exactly one party
// wins, be it the waker, a timer or a close), records the outcome in it, takes
// it off the list and wakes it. A waiter is either a scheduled fiber (woken by
// putting it back on a run queue) or a plain thread (woken by a futex).
//
// Invariants:
//  - A waiter is claimed at most once per wait, and only the claimer wakes it.
//  - The claimer records the outcome in the waiter under the lock of the
//    list the waiter is on, and wakes it after releasing that lock through a
//    wake_token, never through the waiter: a fiber being unwound at shutdown
//    takes the same lock to take its waiter off the list, then its frame goes.
//  - A timer claims under its worker's timer lock, and a woken fiber cancels
//    its timer under the same lock, so a timer never claims a waiter that has
//    gone.
#pragma once

#include <cospace/scheduler.hpp>

#include <atomic>
#include <cstdint>
#include <map>

namespace cospace::detail {

class task_record;
class worker;

enum class wake_reason : std::uint8_t {
  none,       // still waiting
  signalled,  // what was waited for happened
  timeout,    // the deadline passed first
  closed,     // the channel or socket was closed
};

inline constexpr clock::time_point no_deadline = clock::time_point::max();

struct waiter {
  task_record* task = nullptr;              // the fiber to wake; nullptr: a thread
  std::atomic<std::uint32_t> claimed{0};    // 0 until one party wins the right to wake
  std::atomic<std::uint32_t> woken{0};      // thread waiters: the futex word
  wake_reason reason = wake_reason::none;   // written by the claimer before the wake
  void* chosen = nullptr;                   // select: the case that completed
  // Claimed only under the lock of the one list it is on (no deadline, not a
  // select): the claim then needs no compare-and-swap. Set before publishing.
  bool one_lock = false;
  // The worker whose timer list holds this waiter, while it does (a fiber
  // waiting with a deadline). Cleared under that worker's timer lock, by
  // fire_timers as its very last touch of the waiter (after the claim) or
  // by cancel_timer; a waiter that reads null (acquire) may go away: no
  // other thread will touch it again.
  std::atomic<worker*> timer_owner{nullptr};
  std::multimap<clock::time_point, waiter*>::iterator timer;

  bool try_claim() noexcept {
    if (one_lock) {  // every claimer holds the same lock
      if (claimed.load(std::memory_order_relaxed) != 0) return false;
      claimed.store(1, std::memory_order_relaxed);
      return true;
    }
    std::uint32_t expected = 0;
    return claimed.compare_exchange_strong(expected, 1, std::memory_order_acq_rel, std::memory_order_relaxed);
  }
};

// Blocks until a claimer wakes `w` or the deadline passes; returns w.reason.
// On a timeout the waiter is claimed by the timer, so the caller must still
// take it off the list it put it on (the list's owner never will). The
// caller has checked, before publishing `w`, that its task may park
// (check_parkable, scheduler_impl.hpp).
wake_reason park(waiter& w, clock::time_point deadline = no_deadline);

// What a claimer needs to wake a waiter after it has released the lock under
// which it claimed it (by then the waiter itself may be gone, if shutdown
// is unwinding its fiber).
struct wake_token {
  task_record* task = nullptr;                 // a fiber
  std::atomic<std::uint32_t>* word = nullptr;  // a thread's futex word
  explicit operator bool() const noexcept { return task != nullptr || word != nullptr; }
};

// Claims `w` for `reason` (call under the lock of the list it is on); false
// if another party had claimed it.
inline bool claim(waiter& w, wake_reason reason, wake_token& token) noexcept {
  if (!w.try_claim()) return false;
  w.reason = reason;
  token.task = w.task;
  token.word = w.task == nullptr ? &w.woken : nullptr;
  return true;
}

// Wakes a thread waiting in park() on its futex word.
void wake_thread(std::atomic<std::uint32_t>& word) noexcept;

// Wakes what claim() took. Call once, after the lock is released. (A
// channel's send and receive use the inline copy, wake_inline.)
void wake(const wake_token& token) noexcept;

// Storage for a wait's bookkeeping: on the caller's stack, or on the heap
// when the caller's stack is shared (a sliced task's: nothing another party
// reads may live there while it is parked, the stack then being another's).
template <class T>
class wait_storage {
 public:
  // `shared`: the caller runs on a shared stack (its task_record::sliced).
  explicit wait_storage(bool shared) {
    if (shared) heap_ = new T();
  }
  ~wait_storage() { delete heap_; }
  wait_storage(const wait_storage&) = delete;
  wait_storage& operator=(const wait_storage&) = delete;
  T& get() noexcept { return heap_ != nullptr ? *heap_ : local_; }

 private:
  // Default-initialised, not value-initialised: every member of what is
  // kept here has its own initialiser, and zeroing the whole (over 100
  // bytes for a channel's waiter and node) first cost each wait a `rep stos`.
  T local_;
  T* heap_ = nullptr;
};

}  // namespace cospace::detail
