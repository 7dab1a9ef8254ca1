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
// gets EBUSY).
class COSPACE_API socket {
 public:
  socket() noexcept = default;
  // Adopts a connected descriptor (made non-blocking here).
  explicit socket(int fd);
  socket(socket&& other) noexcept;
  socket& operator=(socket&& other) noexcept;
  socket(const socket&) = delete;
  socket& operator=(const socket&) = delete;
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
  // Closes the descriptor. A fiber parked on it wakes with ECANCELED. Calls
  // on a closed socket fail with EBADF. Idempotent.
  // A call of another fiber that is under way but not parked yet ends with
  // ECANCELED too, but its system call may come after the descriptor is
  // closed, when its number may name another file already (the descriptor
  // is closed at once, not when the last call leaves): close a socket that
  // other fibers use only while they wait on it, or not at all. A plain
  // thread blocked in a call (in poll()) is not woken by close(): it waits
  // for readiness or its deadline.
  void close() noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  int native_handle() const noexcept { return fd_; }
  address local_address() const;
  address peer_address() const;

 private:
  friend class listener;
  int fd_ = -1;
  // Its entry in the poller's table (0: none yet; all ones: closed). Set by
  // the first wait, which may be the reader's and the writer's at once, and
  // exchanged by close(), maybe while another fiber's call is under way: atomic.
  std::atomic<std::uint32_t> slot_{0};
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
