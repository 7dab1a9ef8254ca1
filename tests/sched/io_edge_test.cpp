// Edges of io.hpp: a socket closed while a fiber is blocked on it (or about
// to block) in read, write and accept; a deadline expiring as data arrives;
// two fibers accepting on one listener; error messages naming the errno;
// shutdown of fibers blocked on sockets.
#include <cospace/io.hpp>
#include <cospace/scheduler.hpp>
#include <cospace/sync.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = cospace::io;
using cospace::scheduler;
using cospace::test::race_window;

// A connected pair on loopback, made by a fiber of `s`.
struct socket_pair {
  io::socket client, server;
};
socket_pair connected_pair(scheduler& s, io::listener& l) {
  return s
      .spawn([&] {
        socket_pair p;
        p.client = io::socket::connect(l.local_address());
        p.server = l.accept();
        return p;
      })
      .join();
}

// A socket closed by another worker's fiber while its reader is blocked in
// read_some, or just about to block: the read ends at once with ECANCELED
// (it was waiting) or EBADF (closed before it began), never by its
// deadline, and the poller's slot that the socket had is left fit for the
// next socket.
TEST(Io, CloseRacingAReadAboutToWaitEndsTheRead) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  io::listener l = io::listener::bind(io::address::loopback(0));
  constexpr int rounds = 1000;
  int cancelled = 0, bad_fd = 0;
  for (int round = 0; round < rounds; ++round) {
    socket_pair p = connected_pair(s, l);
    std::atomic<bool> reading{false};
    const auto start = cospace::clock::now();
    auto reader = s.spawn([&] {
      char b[1];
      std::error_code error;
      reading = true;
      p.client.read_some(b, sizeof b, error, io::after(2s));
      return error;
    });
    std::thread closer([&, round] {  // lands anywhere from before the read's first try to after it parked
      while (!reading) {
      }
      for (int spin = 0; spin < (round % 50) * 100; ++spin) std::atomic_signal_fence(std::memory_order_seq_cst);
      p.client.close();
    });
    closer.join();
    const std::error_code error = reader.join();
    ASSERT_NE(error, std::errc::timed_out) << "round " << round << ": a read was left waiting on a closed socket";
    ASSERT_TRUE(error == std::errc::operation_canceled || error == std::errc::bad_file_descriptor)
        << "round " << round << ": " << error.message();
    ASSERT_LT(cospace::clock::now() - start, 1s) << "round " << round;
    (error == std::errc::operation_canceled ? cancelled : bad_fd) += 1;
  }
  std::printf("read ended by ECANCELED %d, EBADF %d of %d rounds\n", cancelled, bad_fd, rounds);
  // The slots those sockets had are reused: a read on a new socket still wakes.
  socket_pair p = connected_pair(s, l);
  auto reader = s.spawn([&] {
    char b[1];
    return p.server.read_some(b, sizeof b, io::after(5s));
  });
  p.client.write_all("x");
  EXPECT_EQ(reader.join(), 1u);
}

}  // namespace
