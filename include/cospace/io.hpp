// cospace::io — TCP sockets whose calls block only the calling fiber.
//
// Every socket is non-blocking. A call that would block parks the calling
// scheduled fiber until the process-wide epoll poller (driven by idle
// workers) reports the socket ready, or until the call's deadline; a plain
// thread outside any scheduler waits in poll() instead. Errors come back as
// std::system_error (or through an std::error_code& overload), in the
// system category, with the call and the errno's name in the message
// ("cospace::io::read_some: ECONNRESET (Connection reset by peer)");
// a deadline that passes gives std::errc::timed_out. The error_code
// overloads throw nothing else, but a fiber parked in any call may be
// unwound by scheduler shutdown (cospace::forced_unwind passes through).
#pragma once

#include <cospace/config.h>
#include <cospace/scheduler.hpp>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace cospace::io {

using deadline = clock::time_point;
inline constexpr deadline no_deadline = clock::time_point::max();
template <class Rep, class Period>
deadline after(std::chrono::duration<Rep, Period> timeout) {
  return clock::now() + std::chrono::duration_cast<clock::duration>(timeout);
}

// An IPv4 or IPv6 address and port.
class COSPACE_API address {
 public:
  address() noexcept;
  // "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:0" (numeric only; no name lookup).
  // Throws std::system_error(EINVAL) naming the text.
  static address parse(std::string_view host_port);
  static address loopback(std::uint16_t port);  // 127.0.0.1
  static address any(std::uint16_t port);       // 0.0.0.0

  std::uint16_t port() const noexcept;
  std::string to_string() const;
  int family() const noexcept;
  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return size_; }
  void resize(socklen_t size) noexcept { size_ = size; }

 private:
  sockaddr_storage storage_;
  socklen_t size_;
};

// A connected TCP socket. Move-only; closes its descriptor when destroyed.
// At most one fiber may wait to read and one to write at a time (a second
// gets EBUSY). Its calls may be made from several fibers and threads at once
// (a reader and a writer, and close() from anywhere).
class COSPACE_API socket {
 public:
  socket() noexcept = default;
  // Adopts a connected descriptor (made non-blocking here).
  explicit socket(int fd);
  // Moving a socket (from it or onto it) while a call of another fiber or
  // thread is under way on it is undefined behaviour, as destroying it is.
  socket(socket&& other) noexcept;
  socket& operator=(socket&& other) noexcept;
  socket(const socket&) = delete;
  socket& operator=(const socket&) = delete;
  // close() (one load for a socket that is closed or was never opened).
  // Destroying a socket while a call of another fiber or thread is under
  // way on it is a use-after-free, except for fibers parked in a call:
  // close() wakes them and they do not touch the socket again (a woken
  // plain thread, or a fiber that was running, still does as it leaves).
  ~socket();

  static socket connect(const address& to, deadline until = no_deadline);
  static socket connect(const address& to, std::error_code& error, deadline until = no_deadline);

  // Reads what is there (at least one byte); 0 at end of stream.
  std::size_t read_some(void* buffer, std::size_t size, deadline until = no_deadline);
  std::size_t read_some(void* buffer, std::size_t size, std::error_code& error, deadline until = no_deadline);
  // Writes everything, returns `size`. On an error the bytes written before it
  // are returned through the error_code overload.
  std::size_t write_all(const void* data, std::size_t size, deadline until = no_deadline);
  std::size_t write_all(const void* data, std::size_t size, std::error_code& error,
                        deadline until = no_deadline);
  std::size_t write_all(std::string_view text, deadline until = no_deadline) {
    return write_all(text.data(), text.size(), until);
  }

  void shutdown_write();
  // Closes the socket; idempotent, and safe while other fibers and threads
  // are in calls on it. From its start, calls made on the socket fail with
  // EBADF, and the calls under way end soon: a fiber parked in one wakes
  // with ECANCELED, a call that had not parked yet ends with ECANCELED (or
  // with what its system call gave, if that came first), and so does a
  // plain thread blocked in poll() inside a call.
  //
  // No system call of a call reaches the descriptor once it is closed: each
  // call holds a reference on the socket while it uses the descriptor, and
  // the descriptor is closed by the last one to leave. So close() may
  // return before the descriptor is closed (it does not wait for the calls
  // under way, as Go's Close does not): a call still running, or woken and
  // not run yet, closes it when it leaves. Meanwhile the socket is shut
  // down both ways (SHUT_RDWR), so that the connection ends at once (the
  // peer sees its end of stream; a listener refuses connections) and
  // threads blocked in poll() wake; a descriptor that is not a socket
  // (adopted by socket(int)) cannot be, and its callers in poll() wait for
  // readiness or their deadlines. With no call under way, close() closes
  // the descriptor itself. is_open() is false from the start of close().
  void close() noexcept;
  bool is_open() const noexcept { return (state_.load(std::memory_order_relaxed) & open_bit) != 0; }
  // The descriptor while the socket is open, -1 once close() has begun.
  int native_handle() const noexcept { return is_open() ? fd_ : -1; }
  address local_address() const;
  address peer_address() const;

 private:
  friend class listener;
  class in_flight;  // a call's reference on the socket (io.cpp)
  void adopt(int fd) noexcept {
    fd_ = fd;
    state_.store(open_bit, std::memory_order_relaxed);
  }
  // Written only while nobody else may use the socket (construction, moves,
  // adopt()): calls read it without synchronisation; state_ says whether it
  // may still be used.
  int fd_ = -1;
  // Its entry in the poller's table (0: none yet; all ones: closed). Set by
  // the first wait, which may be the reader's and the writer's at once, and
  // exchanged by close(), maybe while another fiber's call is under way: atomic.
  // Mutable, as state_: bookkeeping that const calls (local_address) update.
  mutable std::atomic<std::uint32_t> slot_{0};
  // Bit 0: open (a descriptor, and close() has not begun; 0 in a default or
  // moved-from socket). Bits 1-63: calls under way (close() counts itself
  // while it runs); a call takes one only while the socket is open, and
  // whoever takes the count to 0 after close() closes the descriptor (io.cpp).
  static constexpr std::uint64_t open_bit = 1;
  mutable std::atomic<std::uint64_t> state_{0};
};

// A listening TCP socket.
class COSPACE_API listener {
 public:
  listener() noexcept = default;
  // SO_REUSEADDR always; SO_REUSEPORT on request.
  static listener bind(const address& at, int backlog = 4096, bool reuse_port = false);

  socket accept(deadline until = no_deadline);
  socket accept(std::error_code& error, deadline until = no_deadline);
  address local_address() const { return socket_.local_address(); }
  void close() noexcept { socket_.close(); }
  bool is_open() const noexcept { return socket_.is_open(); }

 private:
  socket socket_;
};

// The message the library uses for a failed call: "what: ENAME (text)".
COSPACE_API std::string describe_error(const char* what, int error_number);

}  // namespace cospace::io
