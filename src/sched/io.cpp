// Fiber-blocking sockets on one process-wide epoll instance.
//
// Each socket that ever had to wait owns a *slot*: its wait lists (one
// reader, one writer) and two readiness counters. Sockets are registered
// edge-triggered for input and output at once, so the poller reports each
// transition to ready exactly once; the counters make that safe:
//
//   fiber                                   poller (an idle worker)
//   seen = read_seq                         event EPOLLIN for slot s:
//   read() -> EAGAIN                          lock s; ++read_seq;
//   lock s                                    take and claim the reader;
//   read_seq != seen ? unlock, retry          unlock s; wake it
//   else publish waiter; unlock; park
//
// An edge between the EAGAIN and the check bumps the counter, so the fiber
// retries instead of sleeping through it. The epoll data names a slot by
// index and generation, and slots are never freed (only reused), so an event
// for a socket closed meanwhile finds a newer generation and is dropped.
//
// A socket's descriptor is closed by the last party to stop using it, as
// Go's runtime does (internal/poll/fd_mutex.go): every call holds a
// reference (socket::state_) while it may make a system call on the
// descriptor, close() clears the open bit so that no new reference is
// taken and holds one itself while it tears the slot down, and whoever
// drops the count to zero once the bit is clear closes the descriptor. A
// fiber parked in a call whose waiter close() claims has its reference
// dropped by close(), so it need not touch the socket again (its owner may
// destroy it as soon as close() returns).
#include <cospace/io.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "poller.hpp"
#include "scheduler_impl.hpp"

namespace cospace::detail {

// socket::slot_ once the socket is closed: a call under way that has not
// published its waiter yet sees it and gives up (ECANCELED) instead of
// taking a slot for the closed socket (0 means: none yet, take one).
constexpr std::uint32_t closed_slot = ~std::uint32_t{0};

namespace {

// A call's waiter on a slot. `call_dropped`: close() claimed it and dropped
// the call's reference for it (written and read under the slot's lock).
struct io_waiter : waiter {
  bool call_dropped = false;
};

struct io_slot {
  spinlock lock;
  std::uint32_t generation = 0;  // bumped at every close
  // Added to epoll? The add is a system call, made with `lock` released
  // (a spin lock is never held across one): `adding` while it is under way.
  enum class registration : std::uint8_t { none, adding, done } registered = registration::none;
  std::atomic<std::uint32_t> read_seq{0};
  std::atomic<std::uint32_t> write_seq{0};
  io_waiter* reader = nullptr;
  io_waiter* writer = nullptr;
  std::uint32_t next_free = 0;
};

constexpr std::uint32_t chunk_bits = 10;
constexpr std::uint32_t chunk_size = 1u << chunk_bits;
constexpr std::uint32_t max_chunks = 1u << 14;  // 16 M sockets
constexpr std::uint64_t interrupt_tag = ~std::uint64_t{0};

class poller {
 public:
  poller() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    interrupt_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_ < 0 || interrupt_ < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: an interrupt before the wait is not lost
    ev.data.u64 = interrupt_tag;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, interrupt_, &ev) == 0) ok_ = true;
  }

  bool ok() const noexcept { return ok_; }
  int epoll_fd() const noexcept { return epoll_; }
  int interrupt_fd() const noexcept { return interrupt_; }
  std::atomic<std::uint32_t> busy{0};  // not bool: RISC-V has no inline byte-sized exchange
  std::atomic<std::uint32_t> interrupt_pending{0};  // not bool: RISC-V has no inline byte-sized exchange

  // Slot 0 is never handed out: a socket's slot_ == 0 means none.
  std::uint32_t acquire_slot() {
    std::lock_guard<std::mutex> guard(table_lock_);
    if (free_ != 0) {
      const std::uint32_t index = free_;
      free_ = slot(index).next_free;
      return index;
    }
    if (next_ % chunk_size == 0) {
      const std::uint32_t chunk = next_ >> chunk_bits;
      if (chunk >= max_chunks) throw std::system_error(EMFILE, std::system_category(), "cospace::io: too many sockets");
      chunks_[chunk].store(new io_slot[chunk_size], std::memory_order_release);
    }
    if (next_ == 0) ++next_;
    return next_++;
  }
  void release_slot(std::uint32_t index) noexcept {
    std::lock_guard<std::mutex> guard(table_lock_);
    slot(index).next_free = free_;
    free_ = index;
  }
  io_slot& slot(std::uint32_t index) const noexcept {
    return chunks_[index >> chunk_bits].load(std::memory_order_acquire)[index & (chunk_size - 1)];
  }

 private:
  int epoll_ = -1;
  int interrupt_ = -1;
  bool ok_ = false;
  std::mutex table_lock_;
  std::uint32_t free_ = 0;
  std::uint32_t next_ = 0;
  std::array<std::atomic<io_slot*>, max_chunks> chunks_{};
};

std::atomic<poller*> g_poller{nullptr};

poller& the_poller() {
  static poller* made = [] {
    auto* p = new poller();  // never destroyed: sockets may outlive static destructors
    if (!p->ok()) throw std::system_error(errno, std::system_category(), "cospace::io: epoll_create1/eventfd");
    g_poller.store(p, std::memory_order_release);
    return p;
  }();
  return *made;
}

}  // namespace

bool poller_in_use() noexcept { return g_poller.load(std::memory_order_acquire) != nullptr; }

bool poller_try_acquire() noexcept {
  poller* p = g_poller.load(std::memory_order_acquire);
  return p != nullptr && !p->busy.load(std::memory_order_relaxed) && !p->busy.exchange(1, std::memory_order_acquire);
}

void poller_release() noexcept { g_poller.load(std::memory_order_relaxed)->busy.store(0, std::memory_order_release); }

void poller_interrupt() noexcept {
  poller* p = g_poller.load(std::memory_order_acquire);
  if (p == nullptr || p->interrupt_pending.exchange(1, std::memory_order_acq_rel)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(p->interrupt_fd(), &one, sizeof one);
}

void poller_wait(clock::time_point deadline) noexcept {
  poller& p = *g_poller.load(std::memory_order_acquire);
  timespec timeout{};
  const timespec* wait = &timeout;
  if (deadline == no_deadline) {
    wait = nullptr;
  } else if (const auto now = clock::now(); deadline > now) {
    const auto left = deadline - now;
    {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timeout.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      timeout.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    }
  }
  epoll_event events[256];
  int n = epoll_pwait2(p.epoll_fd(), events, 256, wait, nullptr);
  if (n < 0 && errno == ENOSYS) {  // before Linux 5.11: millisecond resolution, rounded up
    const int ms = wait == nullptr ? -1 : static_cast<int>(timeout.tv_sec * 1000 + (timeout.tv_nsec + 999'999) / 1'000'000);
    n = epoll_wait(p.epoll_fd(), events, 256, ms);
  }
  for (int i = 0; i < n; ++i) {
    const std::uint64_t tag = events[i].data.u64;
    if (tag == interrupt_tag) {
      // Drain, then allow the next write. An interrupt raised in between
      // skips its write, which is harmless: this poller is awake and looks
      // at its queues and the scheduler's stage before it sleeps again.
      // (Clearing first would let a write land before the read: the read
      // would consume it and leave the flag set with nothing to read, and
      // every later interrupt would be skipped.)
      std::uint64_t count;
      [[maybe_unused]] const ssize_t r = ::read(p.interrupt_fd(), &count, sizeof count);
      p.interrupt_pending.store(0, std::memory_order_seq_cst);
      continue;
    }
    io_slot& s = p.slot(static_cast<std::uint32_t>(tag));
    const std::uint32_t what = events[i].events;
    wake_token reader, writer;
    s.lock.lock();
    if (s.generation == static_cast<std::uint32_t>(tag >> 32)) {
      if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        s.read_seq.fetch_add(1, std::memory_order_release);
        if (s.reader != nullptr) claim(*std::exchange(s.reader, nullptr), wake_reason::signalled, reader);
      }
      if (what & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        s.write_seq.fetch_add(1, std::memory_order_release);
        if (s.writer != nullptr) claim(*std::exchange(s.writer, nullptr), wake_reason::signalled, writer);
      }
    }
    s.lock.unlock();
    wake(reader);
    wake(writer);
  }
}

}  // namespace cospace::detail

namespace cospace::io {

using detail::io_slot;
using detail::wake_reason;
using detail::waiter;

std::string describe_error(const char* what, int error_number) {
  const char* name = strerrorname_np(error_number);
  std::string text = what;
  text += ": ";
  text += name != nullptr ? name : ("errno " + std::to_string(error_number)).c_str();
  text += " (";
  text += std::strerror(error_number);
  text += ")";
  return text;
}

namespace {

enum class direction { read, write };

std::error_code errno_code(int e) noexcept { return {e, std::system_category()}; }

// A std::system_error whose what() is describe_error()'s text as io.hpp
// gives it ("cospace::io::socket::connect: ECONNREFUSED (Connection
// refused)"): std::system_error's own what() appends ": " and the code's
// message, which that text already has, so it read "... (Connection
// refused): Connection refused".
class io_error final : public std::system_error {
 public:
  io_error(const std::error_code& code, const std::string& text) : std::system_error(code), text_(text) {}
  const char* what() const noexcept override { return text_.what(); }

 private:
  std::runtime_error text_;  // copied without allocating, as exceptions should be
};

[[noreturn]] void throw_error(const char* what, const std::error_code& error) {
  throw io_error(error, describe_error(what, error.value()));
}

// socket::state_ (io.hpp): bit 0 open, bits 1-63 calls under way.
constexpr std::uint64_t open_bit = 1;
constexpr std::uint64_t call_unit = 2;

// Drops `count` references; the party that drops the last one of a closed
// socket closes `fd` (read by the caller before: once its reference is
// gone, the socket may be moved or destroyed).
[[gnu::always_inline]] inline void drop_calls(std::atomic<std::uint64_t>& state, int fd, std::uint64_t count) noexcept {
  // acq_rel: the last one's close comes after every other holder's system calls.
  const std::uint64_t was = state.fetch_sub(count * call_unit, std::memory_order_acq_rel);
  if (was == count * call_unit) [[unlikely]]  // not open, no other call
    ::close(fd);
}

}  // namespace

// A call's reference on its socket, taken if the socket is open (else the
// call fails with EBADF) and dropped when the call leaves, unless close()
// dropped it for the call (dropped_by_close()). One compare-and-swap to
// take it, one subtraction to drop it: the whole cost on the fast path.
// In read_some and write_all only inlined code sees it (its address never
// escapes), so that it lives in registers: the socket's address and a flag.
class socket::in_flight {
 public:
  [[gnu::always_inline]] explicit in_flight(const socket& s) noexcept : socket_(s) {
    std::uint64_t was = s.state_.load(std::memory_order_relaxed);
    do {
      if ((was & open_bit) == 0) return;
    } while (!s.state_.compare_exchange_weak(was, was + call_unit, std::memory_order_acquire,
                                             std::memory_order_relaxed));
    held_ = true;
  }
  // Inlined in the unwinding path too: an out-of-line copy would take the
  // object's address and keep it in memory.
  [[gnu::always_inline]] ~in_flight() {
    if (held_) drop_calls(socket_.state_, socket_.fd_, 1);
  }
  in_flight(const in_flight&) = delete;
  in_flight& operator=(const in_flight&) = delete;

  bool held() const noexcept { return held_; }
  // The descriptor: not written while the socket may be shared (io.hpp).
  int fd() const noexcept { return socket_.fd_; }
  std::atomic<std::uint32_t>& slot() const noexcept { return socket_.slot_; }
  const std::atomic<std::uint64_t>& state() const noexcept { return socket_.state_; }
  // close() has begun (call with the reference held).
  bool closing() const noexcept { return (socket_.state_.load(std::memory_order_acquire) & open_bit) == 0; }
  // close() claimed this call's waiter and dropped its reference: from now
  // on the call must not touch the socket.
  void dropped_by_close() noexcept { held_ = false; }

 private:
  const socket& socket_;
  bool held_ = false;
};

namespace {

int set_nonblocking(int fd) noexcept {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno;
  return 0;
}

// Adds `fd` to epoll unless it is already (edge-triggered, both directions,
// tagged with the slot and its generation), with the slot's lock released
// during the system call. Returns with the lock held, or an error without
// it. A fiber that finds another party adding yields until it is done.
//
// The socket may be closed by another thread at any moment until the
// caller's waiter is published: so each time the lock is taken, the socket
// must still own the slot (`socket_slot`, which close() exchanges first);
// if not, ECANCELED. The check under the lock that the caller publishes
// under is what makes a close either come before it (seen here) or find
// the waiter (and claim it). Without it a read that had loaded the slot
// before the close registered the fd on the released slot and parked there
// for good (Io.CloseRacingAReadAboutToWaitEndsTheRead).
std::error_code register_once(detail::poller& pl, io_slot& s, int fd, std::atomic<std::uint32_t>& socket_slot,
                              std::uint32_t slot_index) {
  using registration = io_slot::registration;
  for (;;) {
    s.lock.lock();
    if (socket_slot.load(std::memory_order_acquire) != slot_index) {  // closed meanwhile
      s.lock.unlock();
      return errno_code(ECANCELED);
    }
    if (s.registered == registration::done) return {};
    if (s.registered == registration::adding) {  // the reader's and the writer's first waits, at once
      s.lock.unlock();
      cospace::this_fiber::yield();
      continue;
    }
    s.registered = registration::adding;
    const std::uint32_t generation = s.generation;
    s.lock.unlock();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = (std::uint64_t{generation} << 32) | slot_index;
    const int added = epoll_ctl(pl.epoll_fd(), EPOLL_CTL_ADD, fd, &ev);
    const int e = errno;
    s.lock.lock();
    // A close() meanwhile waits for the add to end (while `adding`): the
    // registration is this call's to settle, and close() then undoes it.
    s.registered = added == 0 ? registration::done : registration::none;
    if (socket_slot.load(std::memory_order_acquire) != slot_index) {  // closed meanwhile
      s.lock.unlock();
      return errno_code(ECANCELED);
    }
    if (added != 0) {
      s.lock.unlock();
      return errno_code(e);
    }
    return {};
  }
}

// Waits until the call's socket may be ready in `dir` (the caller retries
// its call), the deadline passes (ETIMEDOUT) or the socket is closed
// (ECANCELED).
//
// `call_dropped` is set when close() claimed the waiter and dropped the
// call's reference (in_flight::dropped_by_close()): then ECANCELED, and the
// call must not touch the socket again.
std::error_code wait_ready(int fd, std::atomic<std::uint32_t>& socket_slot, direction dir, std::uint32_t seen,
                           deadline until, bool& call_dropped) {
  if (detail::current_task() == nullptr) {  // a thread: poll()
    pollfd p{fd, static_cast<short>(dir == direction::read ? POLLIN : POLLOUT), 0};
    int ms = -1;
    if (until != no_deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - clock::now()).count();
      if (left <= 0) return errno_code(ETIMEDOUT);
      ms = left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
    }
    // close() shuts the socket down while this call holds its reference:
    // POLLHUP, then the retry sees the socket closing.
    const int n = ::poll(&p, 1, ms);
    if (n < 0) return errno == EINTR ? std::error_code{} : errno_code(errno);
    if (n == 0) return errno_code(ETIMEDOUT);
    return {};
  }
  detail::poller* made = nullptr;
  try {
    made = &detail::the_poller();
  } catch (const std::system_error& e) {
    return e.code();
  }
  detail::poller& pl = *made;
  std::uint32_t slot_index = socket_slot.load(std::memory_order_acquire);
  if (slot_index == detail::closed_slot) return errno_code(ECANCELED);
  if (slot_index == 0) {  // the socket's first wait; maybe its reader's and its writer's at once
    std::uint32_t mine = 0;
    try {
      mine = pl.acquire_slot();
    } catch (const std::system_error& e) {
      return e.code();
    }
    if (socket_slot.compare_exchange_strong(slot_index, mine, std::memory_order_acq_rel)) {
      slot_index = mine;
    } else {
      pl.release_slot(mine);  // the other was first: slot_index is its slot, or the socket was closed
      if (slot_index == detail::closed_slot) return errno_code(ECANCELED);
    }
  }
  io_slot& s = pl.slot(slot_index);
  detail::task_record* const self = detail::current_task();
  detail::check_parkable(self);  // before the waiter is published
  detail::wait_storage<detail::io_waiter> storage(self != nullptr && self->sliced);
  detail::io_waiter& w = storage.get();
  w.task = self;
  detail::io_waiter** place = dir == direction::read ? &s.reader : &s.writer;
  std::atomic<std::uint32_t>& seq = dir == direction::read ? s.read_seq : s.write_seq;
  if (const std::error_code e = register_once(pl, s, fd, socket_slot, slot_index)) return e;  // returns with s.lock held
  if (seq.load(std::memory_order_acquire) != seen) {
    s.lock.unlock();
    return {};
  }
  if (*place != nullptr) {
    s.lock.unlock();
    return errno_code(EBUSY);
  }
  *place = &w;
  s.lock.unlock();
  // After a timeout, and when shutdown unwinds the fiber: off the slot. And
  // whenever close() claimed the waiter, even if shutdown unwinds the fiber
  // rather than let it return from park(): the call's reference is gone.
  struct unlink {
    io_slot& s;
    detail::io_waiter** place;
    detail::io_waiter& w;
    bool& call_dropped;
    ~unlink() {
      s.lock.lock();
      if (*place == &w) *place = nullptr;
      call_dropped = w.call_dropped;
      s.lock.unlock();
    }
  } guard{s, place, w, call_dropped};
  switch (detail::park(w, until)) {
    case wake_reason::timeout: return errno_code(ETIMEDOUT);
    case wake_reason::closed: return errno_code(ECANCELED);
    default: return {};
  }
}

std::uint32_t current_seq(const std::atomic<std::uint32_t>& socket_slot, direction dir) noexcept {
  const std::uint32_t slot_index = socket_slot.load(std::memory_order_acquire);
  if (slot_index == 0 || slot_index == detail::closed_slot) return 0;
  io_slot& s = detail::the_poller().slot(slot_index);
  return (dir == direction::read ? s.read_seq : s.write_seq).load(std::memory_order_acquire);
}

// What retry() does once its first attempt failed with errno `e`: out of
// line, so that the fast path (the first attempt succeeds) keeps its values
// in registers. Sets `call_dropped` as wait_ready() does.
template <class Op>
[[gnu::noinline]] ssize_t retry_slow(const std::atomic<std::uint64_t>& state, int fd,
                                     std::atomic<std::uint32_t>& socket_slot, direction dir, deadline until,
                                     std::error_code& error, Op op, std::uint32_t seen, int e, bool& call_dropped) {
  for (;;) {
    if (e != EINTR) {
      const bool closing = (state.load(std::memory_order_acquire) & open_bit) == 0;
      if (e != EAGAIN && e != EWOULDBLOCK && e != EINPROGRESS) {
        error = errno_code(closing ? ECANCELED : e);  // a shutdown by close() may have caused it
        return -1;
      }
      if (until != no_deadline && clock::now() >= until) {
        error = errno_code(ETIMEDOUT);
        return -1;
      }
      error = wait_ready(fd, socket_slot, dir, seen, until, call_dropped);
      if (error) return -1;
      if (e == EINPROGRESS) return 0;  // connect: the caller reads SO_ERROR
    }
    if ((state.load(std::memory_order_acquire) & open_bit) == 0) {  // close() has begun: no retry
      error = errno_code(ECANCELED);
      return -1;
    }
    seen = current_seq(socket_slot, dir);
    const ssize_t n = op();
    if (n >= 0) return n;
    e = errno;
  }
}

// Runs `op` (a non-blocking system call on call.fd() returning -1 and errno
// on failure) until it does not fail with EAGAIN, waiting for readiness in
// between. EBADF if the call holds no reference (the socket is closed);
// ECANCELED if close() begins before a retry, or before a failure (which
// its shutdown may have caused). `Call`: socket::in_flight (a private name).
// `op` is copied to the slow path: it should capture by value.
template <class Call, class Op>
[[gnu::always_inline]] inline ssize_t retry(Call& call, direction dir, deadline until, std::error_code& error, Op op) {
  error.clear();
  if (!call.held()) [[unlikely]] {
    error = errno_code(EBADF);
    return -1;
  }
  const std::uint32_t seen = current_seq(call.slot(), dir);
  const ssize_t n = op();
  if (n >= 0) [[likely]]
    return n;
  bool dropped = false;
  ssize_t r;
  try {
    r = retry_slow(call.state(), call.fd(), call.slot(), dir, until, error, op, seen, errno, dropped);
  } catch (...) {  // shutdown unwinding a parked call (forced_unwind), maybe after close() claimed it
    if (dropped) call.dropped_by_close();
    throw;
  }
  if (dropped) call.dropped_by_close();
  return r;
}

}  // namespace

// --- address ---------------------------------------------------------------

address::address() noexcept : storage_{}, size_(0) {}

address address::parse(std::string_view text) {
  address a;
  const std::string s(text);
  std::string host;
  std::string port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close != std::string::npos && close + 1 < s.size() && s[close + 1] == ':') {
      host = s.substr(1, close - 1);
      port = s.substr(close + 2);
    }
  } else if (const auto colon = s.rfind(':'); colon != std::string::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  char* end = nullptr;
  const unsigned long number = port.empty() ? 70000 : std::strtoul(port.c_str(), &end, 10);
  if (host.empty() || number > 65535 || (end != nullptr && *end != '\0')) {
    throw std::system_error(EINVAL, std::system_category(),
                            "cospace::io::address::parse: '" + s + "' is not host:port with a numeric host");
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(number));
    a.size_ = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(number));
    a.size_ = sizeof(sockaddr_in6);
  } else {
    throw std::system_error(EINVAL, std::system_category(),
                            "cospace::io::address::parse: '" + host + "' is not a numeric IPv4 or IPv6 address");
  }
  return a;
}

address address::loopback(std::uint16_t port) { return parse("127.0.0.1:" + std::to_string(port)); }
address address::any(std::uint16_t port) { return parse("0.0.0.0:" + std::to_string(port)); }

int address::family() const noexcept { return storage_.ss_family; }

std::uint16_t address::port() const noexcept {
  if (storage_.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (storage_.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string address::to_string() const {
  char text[INET6_ADDRSTRLEN] = "?";
  std::string out;
  if (storage_.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text, sizeof text);
    out.append(text);
  } else if (storage_.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text, sizeof text);
    out.append(1, '[').append(text).append(1, ']');
  } else {
    return "(no address)";
  }
  out.append(1, ':').append(std::to_string(port()));
  return out;
}

// --- socket ----------------------------------------------------------------

socket::socket(int fd) {
  if (fd < 0) throw_error("cospace::io::socket", errno_code(EBADF));
  if (const int e = set_nonblocking(fd)) throw_error("cospace::io::socket: fcntl(O_NONBLOCK)", errno_code(e));
  adopt(fd);
}

socket::socket(socket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      slot_(other.slot_.exchange(0, std::memory_order_relaxed)),
      state_(other.state_.exchange(0, std::memory_order_relaxed)) {}

socket& socket::operator=(socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    slot_.store(other.slot_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
    state_.store(other.state_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
  }
  return *this;
}

socket::~socket() { close(); }

void socket::close() noexcept {
  // Clear the open bit (no call takes a reference from now on) and take
  // one, for the system calls below; a default, moved-from or closed
  // socket stops here (one load).
  std::uint64_t was = state_.load(std::memory_order_relaxed);
  do {
    if ((was & open_bit) == 0) return;
  } while (!state_.compare_exchange_weak(was, (was & ~open_bit) + call_unit, std::memory_order_acq_rel,
                                         std::memory_order_relaxed));
  const int fd = fd_;
  std::uint64_t dropped = 1;  // this one, and one per parked call woken below
  // closed_slot, not 0: a call under way that has not published its waiter
  // yet gives up when it sees it (register_once), rather than take a new slot.
  const std::uint32_t slot_index = slot_.exchange(detail::closed_slot, std::memory_order_acq_rel);
  if (slot_index != 0 && slot_index != detail::closed_slot) {
    detail::poller& p = detail::the_poller();
    io_slot& s = p.slot(slot_index);
    detail::wake_token reader, writer;
    s.lock.lock();
    // An add under way (another fiber's first wait, on another thread: it
    // runs from `adding` to its end without a switch) is waited for, so
    // that the slot is not released marked as registered: that fiber then
    // sees the slot gone and gives up.
    while (s.registered == io_slot::registration::adding) {
      s.lock.unlock();
      std::this_thread::yield();
      s.lock.lock();
    }
    const bool registered = s.registered == io_slot::registration::done;
    s.registered = io_slot::registration::none;
    ++s.generation;
    // A parked call claimed here returns ECANCELED (or is unwound) without
    // touching the socket again: its reference is dropped below, for it.
    for (auto [place, token] : {std::pair{&s.reader, &reader}, std::pair{&s.writer, &writer}}) {
      detail::io_waiter* const w = std::exchange(*place, nullptr);
      if (w != nullptr && claim(*w, wake_reason::closed, *token)) {
        w->call_dropped = true;
        ++dropped;
      }
    }
    s.lock.unlock();
    // Not under the lock (a system call): an event that comes meanwhile
    // carries the old generation and is ignored. The descriptor is still
    // open: this call holds a reference.
    if (registered) epoll_ctl(p.epoll_fd(), EPOLL_CTL_DEL, fd, nullptr);
    detail::wake(reader);
    detail::wake(writer);
    p.release_slot(slot_index);
  }
  // Calls still under way (not parked, or plain threads in poll()) delay
  // the close of the descriptor until the last leaves, which under
  // cooperative scheduling may be long: a shutdown ends the connection now
  // (the peer sees its end, a listener refuses connections, as Linux
  // disconnects a listener shut down for reading), wakes the threads in
  // poll() (POLLHUP) and makes the running calls fail, which they report
  // as ECANCELED. Made while this call's reference keeps the descriptor
  // open; a call that leaves meanwhile only makes it unneeded.
  if (state_.load(std::memory_order_acquire) / call_unit > dropped) ::shutdown(fd, SHUT_RDWR);
  drop_calls(state_, fd, dropped);  // closes the descriptor unless a call is still under way
}

std::size_t socket::read_some(void* buffer, std::size_t size, std::error_code& error, deadline until) {
  in_flight call(*this);
  const int fd = call.fd();
  const ssize_t n = retry(call, direction::read, until, error, [fd, buffer, size] { return ::read(fd, buffer, size); });
  if (n < 0) return 0;
  // An end of stream that close()'s shutdown may have made.
  if (n == 0 && call.closing()) error = errno_code(ECANCELED);
  return static_cast<std::size_t>(n);
}

std::size_t socket::read_some(void* buffer, std::size_t size, deadline until) {
  std::error_code error;
  const std::size_t n = read_some(buffer, size, error, until);
  if (error) throw_error("cospace::io::socket::read_some", error);
  return n;
}

std::size_t socket::write_all(const void* data, std::size_t size, std::error_code& error, deadline until) {
  in_flight call(*this);
  const int fd = call.fd();
  const char* const bytes = static_cast<const char*>(data);
  if (size == 0) {  // no system call
    error = call.held() ? std::error_code{} : errno_code(EBADF);
    return 0;
  }
  auto send_from = [&](std::size_t done) {
    return retry(call, direction::write, until, error, [fd, from = bytes + done, left = size - done] {
      return ::send(fd, from, left, MSG_NOSIGNAL);
    });
  };
  ssize_t n = send_from(0);  // usually all of it
  if (n < 0) return 0;
  std::size_t done = static_cast<std::size_t>(n);
  while (done < size) {
    if (call.closing()) {
      error = errno_code(ECANCELED);
      break;
    }
    n = send_from(done);
    if (n < 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::size_t socket::write_all(const void* data, std::size_t size, deadline until) {
  std::error_code error;
  const std::size_t n = write_all(data, size, error, until);
  if (error) throw_error("cospace::io::socket::write_all", error);
  return n;
}

namespace {

// A call that makes one system call on the descriptor, which does not wait.
template <class Call, class Op>
void call_on_fd(Call& call, const char* what, Op op) {
  if (!call.held()) throw_error(what, errno_code(EBADF));
  if (op(call.fd()) != 0) throw_error(what, errno_code(errno));
}

}  // namespace

void socket::shutdown_write() {
  in_flight call(*this);
  call_on_fd(call, "cospace::io::socket::shutdown_write", [](int fd) { return ::shutdown(fd, SHUT_WR); });
}

namespace {
template <class Call>
address query_address(Call& call, bool peer, const char* what) {
  address a;
  socklen_t size = sizeof(sockaddr_storage);
  call_on_fd(call, what,
             [&](int held) { return peer ? getpeername(held, a.data(), &size) : getsockname(held, a.data(), &size); });
  a.resize(size);
  return a;
}
}  // namespace

address socket::local_address() const {
  in_flight call(*this);
  return query_address(call, false, "cospace::io::socket::local_address");
}
address socket::peer_address() const {
  in_flight call(*this);
  return query_address(call, true, "cospace::io::socket::peer_address");
}

socket socket::connect(const address& to, std::error_code& error, deadline until) {
  error.clear();
  const int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_code(errno);
    return {};
  }
  socket s;  // not shared yet: closes `fd` if the connection fails
  s.adopt(fd);
  {
    in_flight call(s);  // dropped before `s` is returned
    bool first = true;
    const ssize_t n = retry(call, direction::write, until, error, [&]() -> ssize_t {
      if (!first) {
        errno = EINPROGRESS;  // already under way: only its outcome is left to read
        return -1;
      }
      first = false;
      return ::connect(fd, to.data(), to.size());
    });
    if (n < 0) return {};
  }
  int result = 0;
  socklen_t size = sizeof result;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &size) != 0) result = errno;
  if (result != 0) {
    error = errno_code(result);
    return {};
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

socket socket::connect(const address& to, deadline until) {
  std::error_code error;
  socket s = connect(to, error, until);
  if (error) throw_error("cospace::io::socket::connect", error);
  return s;
}

// --- listener --------------------------------------------------------------

listener listener::bind(const address& at, int backlog, bool reuse_port) {
  const int fd = ::socket(at.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_error("cospace::io::listener::bind: socket", errno_code(errno));
  listener l;
  l.socket_.adopt(fd);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    throw_error("cospace::io::listener::bind: SO_REUSEPORT", errno_code(errno));
  if (::bind(fd, at.data(), at.size()) != 0) {
    const int e = errno;
    throw_error(("cospace::io::listener::bind " + at.to_string()).c_str(), errno_code(e));
  }
  if (::listen(fd, backlog) != 0) throw_error("cospace::io::listener::bind: listen", errno_code(errno));
  return l;
}

socket listener::accept(std::error_code& error, deadline until) {
  ssize_t fd;
  {
    socket::in_flight call(socket_);
    const int lfd = call.fd();
    fd = retry(call, direction::read, until, error,
               [lfd]() -> ssize_t { return ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); });
  }
  if (fd < 0) return {};
  socket s;
  s.adopt(static_cast<int>(fd));
  const int one = 1;
  setsockopt(s.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

socket listener::accept(deadline until) {
  std::error_code error;
  socket s = accept(error, until);
  if (error) throw_error("cospace::io::listener::accept", error);
  return s;
}

}  // namespace cospace::io
