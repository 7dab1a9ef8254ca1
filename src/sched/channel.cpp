// Channels: a ring buffer (empty for an unbuffered channel) and two wait
// lists, senders and receivers, all under one spin lock.
//
// Invariants, under the lock:
//  - receivers wait only while the buffer is empty; senders only while it is
//    full (for an unbuffered channel: always, until a receiver comes);
//  - a value passes straight from a waiting sender's slot to a receiver (or
//    into the buffer) by the party that claims the sender's waiter, and
//    straight from a sender into a waiting receiver's slot the same way: the
//    claimer moves it, sets `delivered` and the waiter's `chosen`, and only
//    then releases the lock;
//  - once closed, no one is added to a list, and close() claims everyone
//    on both (reason `closed`).
#include <cospace/channel.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "scheduler_impl.hpp"
#include "wait_list.hpp"

namespace cospace::detail {

// Moves a T from `from` to raw storage at `to`: its bytes, inline, for the
// plain types that fill most channels (integers, pointers, small structs:
// channel_ops::plain_size), else through the type's own move.
[[gnu::always_inline]] inline void move_value(const channel_ops& ops, void* to, void* from) noexcept {
  switch (ops.plain_size) {
    case 8: std::memcpy(to, from, 8); return;
    case 4: std::memcpy(to, from, 4); return;
    case 2: std::memcpy(to, from, 2); return;
    case 1: std::memcpy(to, from, 1); return;
    default: ops.move_construct(to, from);
  }
}
[[gnu::always_inline]] inline void destroy_value(const channel_ops& ops, void* value) noexcept {
  if (ops.plain_size == 0) ops.destroy(value);
}

class channel_core {
 public:
  channel_core(const channel_ops& value_ops, std::size_t capacity)
      : ops(value_ops), capacity_(capacity) {
    if (capacity_ != 0) {
      if (capacity_ > (std::size_t{1} << 40) / std::max<std::size_t>(ops.size, 1))
        throw scheduler_error("cospace::channel: the capacity is too large");
      stride_ = (ops.size + ops.alignment - 1) / ops.alignment * ops.alignment;
      buffer_ = static_cast<unsigned char*>(::operator new(stride_ * capacity_, std::align_val_t{ops.alignment}));
    }
  }
  ~channel_core() {
    while (count_ > 0) pop_into(nullptr);
    if (buffer_ != nullptr) ::operator delete(buffer_, std::align_val_t{ops.alignment});
  }
  channel_core(const channel_core&) = delete;
  channel_core& operator=(const channel_core&) = delete;

  bool full() const noexcept { return count_ == capacity_; }
  bool empty() const noexcept { return count_ == 0; }
  std::size_t count() const noexcept { return count_; }
  std::size_t capacity() const noexcept { return capacity_; }

  void push_from(void* value) noexcept {
    move_value(ops, at((head_ + count_) % capacity_), value);
    ++count_;
  }
  // Moves the oldest value to `out` (or drops it if `out` is null).
  void pop_into(void* out) noexcept {
    void* v = at(head_);
    if (out != nullptr) move_value(ops, out, v);
    destroy_value(ops, v);
    head_ = (head_ + 1) % capacity_;
    --count_;
  }

  const channel_ops& ops;
  spinlock lock;
  bool closed = false;
  wait_list senders;    // only the lists of these are used; `lock` guards them
  wait_list receivers;

 private:
  void* at(std::size_t i) const noexcept { return buffer_ + i * stride_; }
  std::size_t capacity_;
  std::size_t stride_ = 0;
  unsigned char* buffer_ = nullptr;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

namespace {

// The claimed waiter's side of a transfer is done (under the lock).
void mark_delivered(wait_node& n) noexcept {
  n.delivered = true;
  n.w->chosen = &n;
}

// Tries a send without waiting; under the lock. ok or timeout (would wait).
// Inlined: with recv_now, the whole of a channel operation that need not wait.
[[gnu::always_inline]] inline channel_status send_now(channel_core& ch, void* value, wake_token& token) noexcept {
  if (wait_node* r = claim_first(ch.receivers, wake_reason::signalled, token)) {
    move_value(ch.ops, r->slot, value);
    mark_delivered(*r);
    return channel_status::ok;
  }
  if (!ch.full()) {
    ch.push_from(value);
    return channel_status::ok;
  }
  return channel_status::timeout;
}

// Tries a receive without waiting; under the lock.
[[gnu::always_inline]] inline channel_status recv_now(channel_core& ch, void* out, wake_token& token) noexcept {
  if (!ch.empty()) {
    ch.pop_into(out);
    if (wait_node* s = claim_first(ch.senders, wake_reason::signalled, token)) {
      ch.push_from(s->slot);  // a sender waiting for room gets it
      mark_delivered(*s);
    }
    return channel_status::ok;
  }
  if (wait_node* s = claim_first(ch.senders, wake_reason::signalled, token)) {
    move_value(ch.ops, out, s->slot);
    mark_delivered(*s);
    return channel_status::ok;
  }
  return ch.closed ? channel_status::closed : channel_status::timeout;
}

// A value's place on the heap while a sliced task waits with it (a sliced
// task's stack is elsewhere while it waits, so nothing a claimer moves a
// value to or from may live there). Made with no lock held: an allocation
// under a channel's spin lock that threw would leave it held.
class value_box {
 public:
  value_box() noexcept = default;  // empty until init() (an array of boxes)
  ~value_box() {
    if (box_ == nullptr) return;
    if (lent_ != nullptr) {  // a send's value was not taken (or an exception left): back to the caller's object
      destroy_value(*ops_, lent_);
      move_value(*ops_, lent_, box_);
    }
    if (holds_) destroy_value(*ops_, box_);
    ::operator delete(box_, std::align_val_t{ops_->alignment});
  }
  value_box(const value_box&) = delete;
  value_box& operator=(const value_box&) = delete;

  void init(const channel_ops& ops) {
    box_ = ::operator new(ops.size, std::align_val_t{ops.alignment});
    ops_ = &ops;
  }
  void* get() const noexcept { return box_; }
  // A send: its value moves to the box (the caller's object, moved from,
  // stays the caller's), and back unless taken().
  void lend(void* value) noexcept {
    move_value(*ops_, box_, value);
    holds_ = true;
    lent_ = value;
  }
  void taken() noexcept { lent_ = nullptr; }  // the box keeps what the taker moved from
  // A receive: the value delivered to the box moves to `out` (raw storage).
  void deliver(void* out) noexcept {
    holds_ = true;
    move_value(*ops_, out, box_);
  }

 private:
  const channel_ops* ops_ = nullptr;
  void* box_ = nullptr;
  bool holds_ = false;    // an object lives in the box
  void* lent_ = nullptr;  // a send's own object, moved from into the box
};

// A sliced task's wait on a channel: its waiter and node, and a box for the
// value. A send or receive that finds, under the lock, that a sliced task
// must wait releases the lock, makes one, and starts over (park_on returns
// wake_reason::none to say so).
class sliced_wait {
 public:
  explicit sliced_wait(const channel_ops& ops) { box_.init(ops); }

  list_wait* state() const noexcept { return state_.get(); }
  void* slot() const noexcept { return box_.get(); }
  void lend(void* value) noexcept { box_.lend(value); }
  void taken() noexcept { box_.taken(); }
  void deliver(void* out) noexcept { box_.deliver(out); }

 private:
  std::unique_ptr<list_wait> state_ = std::make_unique<list_wait>();
  value_box box_;
};

// A sliced task's select: its waiter, a node per case and a box per case,
// each send case's value lent to its box from the start (so a send that
// completes at once takes it from there too). Made before the locks are
// taken. The boxes give back the values of the sends not taken.
class sliced_select {
 public:
  sliced_select(const select_case* cases, std::size_t n)
      : nodes_(std::make_unique<wait_node[]>(n)), boxes_(std::make_unique<value_box[]>(n)) {
    for (std::size_t i = 0; i < n; ++i) boxes_[i].init(cases[i].ch->ops);
    for (std::size_t i = 0; i < n; ++i)  // no allocation after the first lend: none to undo by hand
      if (cases[i].send) boxes_[i].lend(cases[i].slot);
  }
  waiter w;
  wait_node* nodes() const noexcept { return nodes_.get(); }
  value_box& box(std::size_t i) noexcept { return boxes_[i]; }

 private:
  std::unique_ptr<wait_node[]> nodes_;
  std::unique_ptr<value_box[]> boxes_;
};

// Parks the caller, task `self`, on `list` with `slot` (ch.lock held;
// released here). All inline: the parked fiber's switch returns into
// channel_send's or channel_recv's own frame (park.hpp).
[[gnu::always_inline]] inline wake_reason wait_for_partner(channel_core& ch, wait_list& list, void* slot,
                                                           clock::time_point until, task_record* self,
                                                           sliced_wait* heap) {
  return park_on_inline(ch.lock, list, slot, 0, until, [] {}, self, heap != nullptr ? heap->state() : nullptr);
}

// channel_send() and channel_recv(), with `heap` (null, or a sliced task's
// wait state, made before the lock is taken).
[[gnu::always_inline]] inline channel_status send_with(channel_core& ch, void* value, clock::time_point until,
                                                       sliced_wait* heap);
[[gnu::always_inline]] inline channel_status recv_with(channel_core& ch, void* out, clock::time_point until,
                                                       sliced_wait* heap);

// A sliced task must wait: its wait state first, then the operation again.
[[gnu::noinline, gnu::cold]] channel_status send_sliced(channel_core& ch, void* value, clock::time_point until) {
  sliced_wait heap(ch.ops);
  return send_with(ch, value, until, &heap);
}
[[gnu::noinline, gnu::cold]] channel_status recv_sliced(channel_core& ch, void* out, clock::time_point until) {
  sliced_wait heap(ch.ops);
  return recv_with(ch, out, until, &heap);
}

channel_status send_with(channel_core& ch, void* value, clock::time_point until, sliced_wait* heap) {
  wake_token token;
  ch.lock.lock();
  if (ch.closed) {
    ch.lock.unlock();
    return channel_status::closed;
  }
  channel_status status = send_now(ch, value, token);
  if (status == channel_status::ok || until == no_wait) {
    ch.lock.unlock();
    wake_inline(token);
    return status;
  }
  // Thread-locals read directly: this function switches only inside
  // wait_for_partner, after which it reads none (park.hpp).
  task_record* const self = t_task;
  if (!parkable(self, t_current)) [[unlikely]] {  // before the value is boxed: a refusal must leave it with the caller
    ch.lock.unlock();
    refuse_park(self);
  }
  if (heap != nullptr) heap->lend(value);
  switch (wait_for_partner(ch, ch.senders, heap != nullptr ? heap->slot() : value, until, self, heap)) {
    case wake_reason::signalled:  // taken from the slot
      if (heap != nullptr) heap->taken();
      return channel_status::ok;
    case wake_reason::none: return send_sliced(ch, value, until);  // nothing published, the lock released
    case wake_reason::closed: return channel_status::closed;
    default: return channel_status::timeout;
  }
}

channel_status recv_with(channel_core& ch, void* out, clock::time_point until, sliced_wait* heap) {
  wake_token token;
  ch.lock.lock();
  const channel_status status = recv_now(ch, out, token);
  if (status != channel_status::timeout || until == no_wait) {
    ch.lock.unlock();
    wake_inline(token);
    return status;
  }
  task_record* const self = t_task;  // direct, as in send_with
  switch (wait_for_partner(ch, ch.receivers, heap != nullptr ? heap->slot() : out, until, self, heap)) {
    case wake_reason::signalled:
      if (heap != nullptr) heap->deliver(out);
      return channel_status::ok;
    case wake_reason::none: return recv_sliced(ch, out, until);  // nothing published, the lock released
    case wake_reason::closed: return channel_status::closed;
    default: return channel_status::timeout;
  }
}

}  // namespace

std::shared_ptr<channel_core> make_channel(const channel_ops& ops, std::size_t capacity) {
  return std::make_shared<channel_core>(ops, capacity);
}

channel_status channel_send(channel_core& ch, void* value, clock::time_point until) {
  return send_with(ch, value, until, nullptr);
}

channel_status channel_recv(channel_core& ch, void* out, clock::time_point until) {
  return recv_with(ch, out, until, nullptr);
}

void channel_close(channel_core& ch) {
  ch.lock.lock();
  if (ch.closed) {
    ch.lock.unlock();
    throw channel_closed("cospace::channel::close: the channel is already closed");
  }
  ch.closed = true;
  for (;;) {  // claim in batches; nobody can join the lists any more
    wake_token tokens[64];
    std::size_t n = 0;
    while (n < std::size(tokens)) {
      wait_node* x = claim_first(ch.receivers, wake_reason::closed, tokens[n]);
      if (x == nullptr) x = claim_first(ch.senders, wake_reason::closed, tokens[n]);
      if (x == nullptr) break;
      x->w->chosen = x;
      ++n;
    }
    const bool more = ch.receivers.head != nullptr || ch.senders.head != nullptr;
    ch.lock.unlock();
    for (std::size_t i = 0; i < n; ++i) wake(tokens[i]);
    if (!more) return;
    ch.lock.lock();
  }
}

bool channel_is_closed(channel_core& ch) noexcept {
  ch.lock.lock();
  const bool closed = ch.closed;
  ch.lock.unlock();
  return closed;
}

std::size_t channel_size(channel_core& ch) noexcept {
  ch.lock.lock();
  const std::size_t n = ch.count();
  ch.lock.unlock();
  return n;
}

std::size_t channel_capacity(const channel_core& ch) noexcept { return ch.capacity(); }

// ---------------------------------------------------------------------------
// select

namespace {

[[gnu::tls_model("initial-exec")]] thread_local std::uint32_t t_select_rng = 0;

std::uint32_t next_random() noexcept {
  std::uint32_t x = t_select_rng;
  if (x == 0) x = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(&x)) | 1u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  t_select_rng = x;
  return x;
}

// A select's per-case arrays: in place for up to `inline_cases` cases (a
// select over a few channels allocates nothing), on the heap beyond.
inline constexpr std::size_t inline_cases = 8;
template <class T>
class case_array {
 public:
  explicit case_array(std::size_t n)
      : heap_(n > inline_cases ? std::make_unique<T[]>(n) : nullptr), data_(heap_ ? heap_.get() : inline_), size_(n) {}
  case_array(const case_array&) = delete;
  case_array& operator=(const case_array&) = delete;
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  std::size_t size() const noexcept { return size_; }
  void shrink(std::size_t n) noexcept { size_ = n; }

 private:
  std::unique_ptr<T[]> heap_;
  T inline_[inline_cases];
  T* data_;
  std::size_t size_;
};

// The distinct channels of a select, locked in address order.
class channel_set {
 public:
  channel_set(const select_case* cases, std::size_t n) : all_(n) {
    for (std::size_t i = 0; i < n; ++i) all_[i] = cases[i].ch;
    std::sort(all_.begin(), all_.end());
    all_.shrink(static_cast<std::size_t>(std::unique(all_.begin(), all_.end()) - all_.begin()));
  }
  void lock() noexcept {
    for (channel_core* c : all_) c->lock.lock();
  }
  void unlock() noexcept {
    for (std::size_t i = all_.size(); i-- > 0;) all_[i]->lock.unlock();
  }

 private:
  case_array<channel_core*> all_;
};

}  // namespace

std::size_t select(select_case* cases, std::size_t n, clock::time_point until) {
  if (n == 0) throw scheduler_error("cospace::select: no cases");
  for (std::size_t i = 0; i < n; ++i) {
    if (cases[i].ch == nullptr) throw scheduler_error("cospace::select: a case has no channel");
    cases[i].delivered = false;
  }
  // A random order each time: among ready cases, each is as likely to win.
  case_array<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[next_random() % i]);

  task_record* const self = until == no_wait ? nullptr : current_task();
  // The wait's bookkeeping, made before the locks are taken (an allocation
  // under them that threw would leave them held): its nodes in place, or a
  // sliced task's all on the heap, its send values with them.
  std::unique_ptr<sliced_select> heap;
  if (self != nullptr && self->sliced) heap = std::make_unique<sliced_select>(cases, n);
  case_array<wait_node> local_nodes(until == no_wait || heap != nullptr ? 0 : n);
  wait_node* const nodes = heap != nullptr ? heap->nodes() : local_nodes.begin();
  waiter local_w;
  waiter& w = heap != nullptr ? heap->w : local_w;
  // Where case i's value is: a sliced task's send values are in its boxes.
  auto value_of = [&](std::size_t i) { return heap != nullptr && cases[i].send ? heap->box(i).get() : cases[i].slot; };

  channel_set locks(cases, n);
  wake_token token;
  locks.lock();
  for (std::size_t i : order) {
    select_case& c = cases[i];
    if (c.send && c.ch->closed) {
      locks.unlock();
      throw channel_closed("cospace::select: a send case's channel is closed");
    }
    const channel_status status = c.send ? send_now(*c.ch, value_of(i), token) : recv_now(*c.ch, c.slot, token);
    if (status == channel_status::timeout) continue;
    locks.unlock();
    wake(token);
    c.delivered = status == channel_status::ok;
    if (heap != nullptr && c.send) heap->box(i).taken();
    return i;
  }
  if (until == no_wait) {
    locks.unlock();
    return select_timed_out;
  }
  if (!parkable(self)) {  // before the nodes are published (check_parkable)
    locks.unlock();
    refuse_park(self);
  }
  w.task = self;
  for (std::size_t i = 0; i < n; ++i) {
    nodes[i].w = &w;
    nodes[i].slot = heap != nullptr ? heap->box(i).get() : cases[i].slot;
    nodes[i].index = static_cast<std::uint32_t>(i);
    push_back(cases[i].send ? cases[i].ch->senders : cases[i].ch->receivers, nodes[i]);
  }
  locks.unlock();
  struct unlink {  // before `heap` goes: its nodes leave the lists first
    channel_set& locks;
    select_case* cases;
    wait_node* nodes;
    std::size_t n;
    ~unlink() {
      locks.lock();
      for (std::size_t i = 0; i < n; ++i) erase(cases[i].send ? cases[i].ch->senders : cases[i].ch->receivers, nodes[i]);
      locks.unlock();
    }
  } guard{locks, cases, nodes, n};
  const wake_reason reason = park(w, until);
  if (reason == wake_reason::timeout) return select_timed_out;
  const auto* chosen = static_cast<const wait_node*>(w.chosen);
  const std::size_t i = chosen->index;
  if (reason == wake_reason::closed && cases[i].send)
    throw channel_closed("cospace::select: a send case's channel was closed while it waited");
  cases[i].delivered = reason == wake_reason::signalled;
  if (heap != nullptr && cases[i].delivered) {
    if (cases[i].send) heap->box(i).taken();
    else heap->box(i).deliver(cases[i].slot);
  }
  return i;
}

}  // namespace cospace::detail
