// cospace::channel<T> — typed message passing between fibers (and threads).
//
//   cospace::channel<int> ch;          // unbuffered: a send waits for a receiver
//   cospace::channel<int> jobs(64);    // buffered: a send waits only when 64 are queued
//   ch.send(1);                        // parks the sending fiber until taken
//   std::optional<int> v = ch.recv();  // nullopt once the channel is closed and drained
//   for (int v : jobs) ...             // ends when `jobs` is closed and drained
//   ch.close();
//
// A channel is a handle: copies share one channel, which lives until the
// last copy goes. Waiters are served first come, first served. select()
// waits on several channel operations and performs exactly one, chosen at
// random among those ready so that no case starves.
#pragma once

#include <cospace/config.h>
#include <cospace/scheduler.hpp>

#include <cstddef>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace cospace {

// A send on a closed channel, or close() of a closed one (as Go, which
// panics on both).
class COSPACE_API channel_closed : public scheduler_error {
 public:
  using scheduler_error::scheduler_error;
};

enum class channel_status {
  ok,        // done
  closed,    // receive: closed and drained; send: closed (the value is kept)
  timeout,   // the deadline passed first, or (try_*) it would have waited
};

namespace detail {
struct channel_ops {
  void (*move_construct)(void* to, void* from) noexcept;
  void (*destroy)(void* value) noexcept;
  std::size_t size;
  std::size_t alignment;
  // sizeof(T) if a T is moved by copying its bytes and destroyed by doing
  // nothing (trivially copyable and destructible, 8 bytes or less), else 0:
  // a hop moves such a value inline instead of through move_construct.
  std::size_t plain_size;
};

template <class T>
inline constexpr std::size_t plain_size_of =
    std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T> && sizeof(T) <= 8 ? sizeof(T) : 0;

template <class T>
const channel_ops& channel_ops_for() noexcept {
  static constexpr channel_ops ops{
      [](void* to, void* from) noexcept { ::new (to) T(std::move(*static_cast<T*>(from))); },
      [](void* value) noexcept { static_cast<T*>(value)->~T(); }, sizeof(T), alignof(T), plain_size_of<T>};
  return ops;
}

inline constexpr clock::time_point no_wait = clock::time_point::min();

class channel_core;
COSPACE_API std::shared_ptr<channel_core> make_channel(const channel_ops& ops, std::size_t capacity);
// `value` is moved from only when the result is ok. `until`: no_wait never waits.
COSPACE_API channel_status channel_send(channel_core& ch, void* value, clock::time_point until);
// On ok, a T was constructed at `out`.
COSPACE_API channel_status channel_recv(channel_core& ch, void* out, clock::time_point until);
COSPACE_API void channel_close(channel_core& ch);
COSPACE_API bool channel_is_closed(channel_core& ch) noexcept;
COSPACE_API std::size_t channel_size(channel_core& ch) noexcept;
COSPACE_API std::size_t channel_capacity(const channel_core& ch) noexcept;

struct select_case {
  channel_core* ch = nullptr;
  bool send = false;
  void* slot = nullptr;         // send: the value; receive: where to construct it
  bool delivered = false;       // receive: a value is at `slot`; send: it was taken
};
inline constexpr std::size_t select_timed_out = static_cast<std::size_t>(-1);
// Performs one ready case (random among the ready ones), waiting until one
// is or `until` passes (select_timed_out). A send case on a closed channel
// throws channel_closed; a receive case on one completes, not delivered.
COSPACE_API std::size_t select(select_case* cases, std::size_t count, clock::time_point until);

template <class T>
struct raw_value {
  alignas(T) unsigned char bytes[sizeof(T)];
  void* get() noexcept { return bytes; }
  T take() noexcept(std::is_nothrow_move_constructible_v<T>) {
    T* p = std::launder(reinterpret_cast<T*>(bytes));
    T value(std::move(*p));
    p->~T();
    return value;
  }
};
}  // namespace detail

template <class T>
class channel;

// A receive for select(): after select() chose it, value() is the value
// received, or nullopt if the channel was closed.
template <class T>
class recv_case {
 public:
  explicit recv_case(const channel<T>& ch) noexcept;
  std::optional<T>& value() noexcept { return value_; }
  detail::select_case& raw() noexcept { return raw_; }
  void finish() {
    if (raw_.delivered) value_.emplace(storage_.take());
    raw_.delivered = false;
  }

 private:
  detail::raw_value<T> storage_;
  detail::select_case raw_;
  std::optional<T> value_;
};

// A send for select(): the value is moved out only if select() chose it.
template <class T>
class send_case {
 public:
  send_case(const channel<T>& ch, T value) noexcept(std::is_nothrow_move_constructible_v<T>);
  // The value to send: still the case's own unless select() chose this case
  // (then moved from).
  T& value() noexcept { return value_; }
  detail::select_case& raw() noexcept { return raw_; }
  void finish() noexcept {}

 private:
  T value_;
  detail::select_case raw_;
};

template <class T>
class channel {
  static_assert(std::is_nothrow_move_constructible_v<T>, "cospace::channel<T> needs a T that moves without throwing");
  static_assert(std::is_object_v<T> && !std::is_array_v<T>, "cospace::channel<T> carries object values");

 public:
  // capacity 0: unbuffered.
  explicit channel(std::size_t capacity = 0)
      : core_(detail::make_channel(detail::channel_ops_for<T>(), capacity)) {}

  // Waits until a receiver takes the value (unbuffered) or there is room.
  // Throws channel_closed if the channel is (or gets) closed first.
  void send(T value) {
    if (detail::channel_send(*core_, std::addressof(value), no_deadline()) == channel_status::closed)
      throw channel_closed("cospace::channel::send: the channel is closed");
  }
  // Moves `value` out only on ok; timeout if it would wait; closed if closed.
  channel_status try_send(T& value) { return detail::channel_send(*core_, std::addressof(value), detail::no_wait); }
  channel_status send_until(T& value, clock::time_point until) {
    return detail::channel_send(*core_, std::addressof(value), until);
  }

  // The next value; nullopt once the channel is closed and drained.
  std::optional<T> recv() {
    std::optional<T> out;
    receive(out, no_deadline());
    return out;
  }
  channel_status try_recv(std::optional<T>& out) { return receive(out, detail::no_wait); }
  channel_status recv_until(std::optional<T>& out, clock::time_point until) { return receive(out, until); }

  // Wakes every waiter: receivers get nullopt once the buffer is drained,
  // senders get channel_closed. Closing twice throws channel_closed.
  void close() { detail::channel_close(*core_); }
  bool closed() const noexcept { return detail::channel_is_closed(*core_); }
  std::size_t size() const noexcept { return detail::channel_size(*core_); }  // values buffered
  std::size_t capacity() const noexcept { return detail::channel_capacity(*core_); }

  recv_case<T> on_recv() const noexcept { return recv_case<T>(*this); }
  send_case<T> on_send(T value) const { return send_case<T>(*this, std::move(value)); }

  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(channel* ch) : ch_(ch) { ++*this; }
    T& operator*() noexcept { return *current_; }
    iterator& operator++() {
      current_ = ch_->recv();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const noexcept { return !current_.has_value(); }

   private:
    channel* ch_ = nullptr;
    std::optional<T> current_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

  friend bool operator==(const channel& a, const channel& b) noexcept { return a.core_ == b.core_; }

 private:
  friend class recv_case<T>;
  friend class send_case<T>;
  static clock::time_point no_deadline() noexcept { return clock::time_point::max(); }
  channel_status receive(std::optional<T>& out, clock::time_point until) {
    detail::raw_value<T> storage;
    const channel_status status = detail::channel_recv(*core_, storage.get(), until);
    if (status == channel_status::ok) out.emplace(storage.take());
    return status;
  }
  std::shared_ptr<detail::channel_core> core_;
};

template <class T>
recv_case<T>::recv_case(const channel<T>& ch) noexcept {
  raw_.ch = ch.core_.get();
  raw_.send = false;
  raw_.slot = storage_.get();
}

template <class T>
send_case<T>::send_case(const channel<T>& ch, T value) noexcept(std::is_nothrow_move_constructible_v<T>)
    : value_(std::move(value)) {
  raw_.ch = ch.core_.get();
  raw_.send = true;
  raw_.slot = std::addressof(value_);
}

namespace detail {
template <class... Cases>
std::size_t select_cases(clock::time_point until, Cases&... cases) {
  select_case raw[] = {cases.raw()...};
  const std::size_t chosen = detail::select(raw, sizeof...(Cases), until);
  std::size_t i = 0;
  auto finish = [&](auto& c) {
    if (i == chosen) {
      c.raw().delivered = raw[i].delivered;
      c.finish();
    }
    ++i;
  };
  (finish(cases), ...);
  return chosen;
}
}  // namespace detail

// Waits until one of the cases can proceed, performs it and returns its
// position (0-based). The cases' channels must outlive the call.
template <class... Cases>
std::size_t select(Cases&... cases) {
  static_assert(sizeof...(Cases) > 0, "cospace::select needs at least one case");
  return detail::select_cases(clock::time_point::max(), cases...);
}
// As select(), but gives up at `until`: nullopt.
template <class... Cases>
std::optional<std::size_t> select_until(clock::time_point until, Cases&... cases) {
  const std::size_t i = detail::select_cases(until, cases...);
  if (i == detail::select_timed_out) return std::nullopt;
  return i;
}
template <class Rep, class Period, class... Cases>
std::optional<std::size_t> select_for(std::chrono::duration<Rep, Period> timeout, Cases&... cases) {
  return select_until(clock::now() + std::chrono::duration_cast<clock::duration>(timeout), cases...);
}
// Never waits (Go's select with a default case): nullopt if none is ready.
template <class... Cases>
std::optional<std::size_t> try_select(Cases&... cases) {
  return select_until(detail::no_wait, cases...);
}

}  // namespace cospace
