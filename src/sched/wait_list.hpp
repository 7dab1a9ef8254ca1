// The FIFO of parked parties behind every primitive of sync.hpp and every
// channel: a spin lock and a doubly linked list of nodes, each naming a
// waiter. A select puts one node per channel, all naming the same waiter,
// so that the first channel to claim it wins and the others skip it.
#pragma once

#include <cospace/sync.hpp>

#include <cstdint>
#include <memory>
#include <type_traits>

#include "lock.hpp"
#include "park.hpp"
#include "scheduler_impl.hpp"
#include "wait.hpp"

namespace cospace::detail {

struct wait_node {
  waiter* w = nullptr;
  wait_node* prev = nullptr;
  wait_node* next = nullptr;
  bool linked = false;
  void* slot = nullptr;     // channels: the value to take, or where to put one
  std::uint32_t index = 0;  // select: which case this node is
  bool delivered = false;   // channels: the claimer moved a value through `slot`
  std::uint64_t tag = 0;    // mutex: who waits (the owner once it is handed over)
};

inline void lock(wait_list& l) noexcept {
  if (!l.locked.exchange(1, std::memory_order_acquire)) [[likely]] return;
  spin_until_acquired(l.locked);
}
inline void unlock(wait_list& l) noexcept { l.locked.store(0, std::memory_order_release); }

struct list_guard {
  wait_list& l;
  explicit list_guard(wait_list& list) noexcept : l(list) { lock(l); }
  ~list_guard() { unlock(l); }
  list_guard(const list_guard&) = delete;
  list_guard& operator=(const list_guard&) = delete;
};

inline void push_back(wait_list& l, wait_node& n) noexcept {
  n.prev = l.tail;
  n.next = nullptr;
  if (l.tail != nullptr) l.tail->next = &n;
  else l.head = &n;
  l.tail = &n;
  n.linked = true;
}

inline void erase(wait_list& l, wait_node& n) noexcept {
  if (!n.linked) return;
  if (n.prev != nullptr) n.prev->next = n.next;
  else l.head = n.next;
  if (n.next != nullptr) n.next->prev = n.prev;
  else l.tail = n.prev;
  n.prev = n.next = nullptr;
  n.linked = false;
}

// Takes nodes off the front until one whose waiter it can claim (a select
// may have been won elsewhere, a timer may have fired). Under the lock.
inline wait_node* claim_first(wait_list& l, wake_reason reason, wake_token& token) noexcept {
  while (wait_node* n = l.head) {
    erase(l, *n);
    if (claim(*n->w, reason, token)) return n;
  }
  return nullptr;
}

// Claims every waiter on the list and wakes each once the lock is released.
inline void wake_all(wait_list& l, wake_reason reason) noexcept {
  wake_token tokens[64];
  for (;;) {
    std::size_t n = 0;
    lock(l);
    while (n < std::size(tokens)) {
      if (claim_first(l, reason, tokens[n]) == nullptr) break;
      ++n;
    }
    const bool more = l.head != nullptr;
    unlock(l);
    for (std::size_t i = 0; i < n; ++i) wake(tokens[i]);
    if (!more) return;
  }
}

// A wait_list's own lock as a Lockable.
struct own_lock {
  wait_list& l;
  void lock() noexcept { detail::lock(l); }
  void unlock() noexcept { detail::unlock(l); }
};

// What park_on() publishes: a waiter and its node.
struct list_wait {
  waiter w;
  wait_node node;
};

// A sliced task keeps its list_wait on the heap (its stack is elsewhere
// while it waits), allocated before the caller takes the lock it parks
// under: an allocation under a spin lock that threw would leave the lock
// held. Null for every other caller.
inline std::unique_ptr<list_wait> heap_wait_for(const task_record* self) {
  return self != nullptr && self->sliced ? std::make_unique<list_wait>() : nullptr;
}

// park_on() once it may publish: puts `s` on `list` and parks. Always
// inlined, and called separately for a list_wait on the caller's stack and
// one on the heap, so that the stack one is written once (its initialisers
// and the fields set here merge) rather than initialised, then set through
// a pointer that might be the heap's.
template <bool InlinePark, class Lock, class BeforePark>
[[gnu::always_inline]] inline wake_reason publish_and_park(Lock& guard, wait_list& list, list_wait& s, void* slot,
                                                           std::uint64_t tag, clock::time_point deadline,
                                                           BeforePark& before_park, task_record* self) {
  s.w.task = self;
  s.w.one_lock = deadline == no_deadline;  // then only holders of `guard` claim it
  s.node.w = &s.w;
  s.node.slot = slot;
  s.node.tag = tag;
  push_back(list, s.node);
  guard.unlock();
  // Every claimer but a timer takes the node off the list before it claims
  // it: after a wake for any other reason there is nothing to undo, and the
  // lock is not taken again.
  struct unlink {
    Lock& guard;
    wait_list& list;
    wait_node& n;
    bool off = false;
    ~unlink() {
      if (off) return;
      guard.lock();
      erase(list, n);
      guard.unlock();
    }
  } off_the_list{guard, list, s.node};
  before_park();
  wake_reason reason;
  if constexpr (InlinePark) reason = park_inline(s.w, deadline);
  else reason = park(s.w, deadline);
  off_the_list.off = reason != wake_reason::timeout;
  return reason;
}

// Parks the caller on `list`, under `guard` (a Lockable the caller holds;
// released here), with `slot` and `tag` in its node, until claimed or the
// deadline. Takes its node off the list on a timeout and when shutdown
// unwinds it. `before_park` runs after `guard` is released and before
// parking (condition_variable unlocks its mutex there). `self`: the
// calling task (current_task()), if the caller has it at hand already.
// `heap`: a sliced task's list_wait (heap_wait_for). If `self` is sliced
// and `heap` null, nothing is published: `guard` is released and this
// returns wake_reason::none, and the caller makes a list_wait (with no lock
// held) and starts over.
// `InlinePark`: park_inline, not park(), so that the fiber comes back from
// its switch straight into the frame this is inlined into (park.hpp).
template <bool InlinePark, class Lock, class BeforePark>
[[gnu::always_inline]] inline wake_reason park_on_with(Lock&& guard, wait_list& list, void* slot, std::uint64_t tag,
                                                       clock::time_point deadline, BeforePark&& before_park,
                                                       task_record* self, list_wait* heap) {
  // Inline into a function that switches only inside this: the running
  // fiber is read directly (see park_inline).
  const bool may_park = InlinePark ? parkable(self, t_current) : parkable(self);
  if (!may_park) [[unlikely]] {  // before the node is published (check_parkable)
    guard.unlock();
    refuse_park(self);
  }
  if (heap != nullptr) return publish_and_park<InlinePark>(guard, list, *heap, slot, tag, deadline, before_park, self);
  if (self != nullptr && self->sliced) [[unlikely]] {
    guard.unlock();
    return wake_reason::none;
  }
  list_wait local;  // default-initialised: each member has its own initialiser
  return publish_and_park<InlinePark>(guard, list, local, slot, tag, deadline, before_park, self);
}

template <class Lock, class BeforePark>
wake_reason park_on(Lock&& guard, wait_list& list, void* slot, std::uint64_t tag, clock::time_point deadline,
                    BeforePark&& before_park, task_record* self = current_task(), list_wait* heap = nullptr) {
  return park_on_with<false>(guard, list, slot, tag, deadline, before_park, self, heap);
}

// park_on(), all of it inlined into its caller, park() included: for the
// waits on a hop's path (a channel's send and receive). Its caller must not
// read a thread-local directly after it, nor call it in a loop (see
// park_inline).
template <class Lock, class BeforePark>
[[gnu::always_inline]] inline wake_reason park_on_inline(Lock&& guard, wait_list& list, void* slot, std::uint64_t tag,
                                                         clock::time_point deadline, BeforePark&& before_park,
                                                         task_record* self, list_wait* heap) {
  return park_on_with<true>(guard, list, slot, tag, deadline, before_park, self, heap);
}

// The common case: a wait_list under its own lock, nothing in the node.
inline wake_reason wait_on(wait_list& l, list_wait* heap = nullptr) {
  return park_on(own_lock{l}, l, nullptr, 0, no_deadline, [] {}, current_task(), heap);
}

}  // namespace cospace::detail
