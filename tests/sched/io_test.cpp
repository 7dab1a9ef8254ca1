// Fiber-blocking sockets: a loopback server with many concurrent clients,
// deadlines, errors named by errno, close while waiting, shutdown, misuse.
#include <cospace/io.hpp>
#include <cospace/scheduler.hpp>
#include <cospace/sync.hpp>

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "sched_test_support.hpp"

namespace {

using namespace std::chrono_literals;
using cospace::scheduler;
namespace io = cospace::io;

// Echoes every connection until its peer closes.
void serve_echo(io::listener& l, std::atomic<int>& served) {
  for (;;) {
    std::error_code error;
    io::socket s = l.accept(error);
    if (error) return;  // closed: the test is over
    cospace::spawn([c = std::move(s), &served]() mutable {
      char buffer[4096];
      for (;;) {
        const std::size_t n = c.read_some(buffer, sizeof buffer);
        if (n == 0) break;
        c.write_all(buffer, n);
      }
      ++served;
    }).detach();
  }
}

TEST(Io, LoopbackServerWithManyConcurrentClients) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  const int clients = static_cast<int>(cospace::test::scaled(1000, 200));
  scheduler s({.threads = 2});
  io::listener l = io::listener::bind(io::address::loopback(0));
  const io::address at = l.local_address();
  std::atomic<int> served{0};
  auto server = s.spawn([&] { serve_echo(l, served); });
  std::atomic<int> ok{0};
  std::vector<cospace::task<>> tasks;
  for (int i = 0; i < clients; ++i)
    tasks.push_back(s.spawn([&, i] {
      io::socket c = io::socket::connect(at);
      std::string message = "client " + std::to_string(i) + " says hello";
      message.resize(message.size() + static_cast<std::size_t>(i % 7) * 1000, 'x');
      for (int round = 0; round < 3; ++round) {
        c.write_all(message);
        std::string back(message.size(), '\0');
        std::size_t got = 0;
        while (got < back.size()) {
          const std::size_t n = c.read_some(back.data() + got, back.size() - got);
          ASSERT_GT(n, 0u) << "the server closed early";
          got += n;
        }
        EXPECT_EQ(back, message);
      }
      ++ok;
    }));
  for (auto& t : tasks) t.join();
  EXPECT_EQ(ok.load(), clients);
  while (served.load() < clients) std::this_thread::sleep_for(1ms);
  l.close();  // the acceptor wakes with ECANCELED and returns
  server.join();
}

TEST(Io, AThreadOutsideTheSchedulerCanBeAClient) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  io::listener l = io::listener::bind(io::address::loopback(0));
  std::atomic<int> served{0};
  auto server = s.spawn([&] { serve_echo(l, served); });
  io::socket c = io::socket::connect(l.local_address());  // poll() underneath
  c.write_all("ping");
  char buffer[8] = {};
  std::size_t got = 0;
  while (got < 4) got += c.read_some(buffer + got, 4 - got);
  EXPECT_STREQ(buffer, "ping");
  c.close();
  l.close();
  server.join();
}

TEST(Io, ReadReturnsZeroWhenThePeerCloses) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  io::listener l = io::listener::bind(io::address::loopback(0));
  auto server = s.spawn([&] {
    io::socket c = l.accept();
    c.write_all("bye");
    c.shutdown_write();
    char b[16];
    return c.read_some(b, sizeof b);  // the client closes
  });
  auto client = s.spawn([&] {
    io::socket c = io::socket::connect(l.local_address());
    std::string text;
    char b[16];
    while (std::size_t n = c.read_some(b, sizeof b)) text.append(b, n);
    return text;
  });
  EXPECT_EQ(client.join(), "bye");
  EXPECT_EQ(server.join(), 0u);
}

TEST(Io, DeadlinesGiveTimedOut) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  io::listener l = io::listener::bind(io::address::loopback(0));
  auto t = s.spawn([&] {
    const auto start = cospace::clock::now();
    std::error_code error;
    io::socket none = l.accept(error, io::after(20ms));
    EXPECT_EQ(error, std::errc::timed_out);
    EXPECT_FALSE(none.is_open());
    EXPECT_GE(cospace::clock::now() - start, 20ms);

    io::socket c = io::socket::connect(l.local_address());
    io::socket server_side = l.accept();
    char b[4];
    try {
      c.read_some(b, sizeof b, io::after(10ms));
      ADD_FAILURE() << "read_some did not time out";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::timed_out);
      EXPECT_NE(std::string(e.what()).find("ETIMEDOUT"), std::string::npos) << e.what();
    }
  });
  t.join();
}

// A reader and a writer on one socket, each blocking on it for the first
// time at the same moment on two workers (its send buffer is filled first,
// so the write blocks at once, as the read does): its registration with
// epoll (a system call made with the slot's lock released, which the other
// waits for) happens once, and both are woken by the events that follow.
// Each round is a fresh socket (the two meet in the add now and then, not
// every run: the test shows that when they do, nothing is lost).
TEST(Io, AReaderAndAWriterBlockOnOneSocketAtOnce) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  io::listener l = io::listener::bind(io::address::loopback(0));
  const std::string data(std::size_t{1} << 16, 'x');
  for (int round = 0; round < 50; ++round) {
    io::socket c, p;  // p, accepted, has never waited: it is not registered yet (c was, by its connect)
    s.spawn([&] {
       c = io::socket::connect(l.local_address());
       p = l.accept();
     }).join();
    std::size_t prefilled = 0;
    for (;;) {  // until the kernel's buffers are full
      const ssize_t n = ::send(p.native_handle(), data.data(), data.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      prefilled += static_cast<std::size_t>(n);
    }
    auto reader = s.spawn([&] {
      std::string text;
      char b[8];
      while (text.size() < 4) {
        const std::size_t n = p.read_some(b, sizeof b);
        if (n == 0) break;
        text.append(b, n);
      }
      return text;
    });
    auto writer = s.spawn([&] { p.write_all(data.data(), data.size()); });
    auto peer = s.spawn([&] {
      std::vector<char> b(65536);
      std::size_t got = 0;
      while (got < prefilled + data.size()) {
        const std::size_t n = c.read_some(b.data(), b.size());
        if (n == 0) break;
        got += n;
      }
      c.write_all("done");
      return got;
    });
    writer.join();
    EXPECT_EQ(reader.join(), "done") << "round " << round;
    EXPECT_EQ(peer.join(), prefilled + data.size()) << "round " << round;
  }
}

TEST(Io, ClosingASocketWakesItsWaiter) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 2});
  io::listener l = io::listener::bind(io::address::loopback(0));
  io::socket c;
  cospace::latch connected(1);
  auto reader = s.spawn([&] {
    c = io::socket::connect(l.local_address());
    io::socket keep = l.accept();
    connected.count_down();
    char b[4];
    std::error_code error;
    c.read_some(b, sizeof b, error);
    return error;
  });
  connected.wait();
  std::this_thread::sleep_for(20ms);  // let it park
  auto closer = s.spawn([&] { c.close(); });
  closer.join();
  const std::error_code error = reader.join();
  EXPECT_TRUE(error == std::errc::operation_canceled || error == std::errc::bad_file_descriptor) << error.message();
}

TEST(Io, ShutdownUnwindsAFiberBlockedInAccept) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  io::listener l = io::listener::bind(io::address::loopback(0));
  std::atomic<bool> unwound{false};
  cospace::task<> t;
  {
    scheduler s({.threads = 1});
    t = s.spawn([&] {
      struct flag_on_exit {
        std::atomic<bool>& f;
        ~flag_on_exit() { f = true; }
      } g{unwound};
      l.accept();
    });
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(unwound.load());
  EXPECT_THROW(t.join(), cospace::fiber_cancelled);
  // The listener still works: its poller entry was left cleanly.
  scheduler s({.threads = 1});
  auto again = s.spawn([&] {
    io::socket c = io::socket::connect(l.local_address());
    return l.accept(io::after(5s)).is_open();
  });
  EXPECT_TRUE(again.join());
}

TEST(IoMisuse, ErrorsNameTheErrno) {
  COSPACE_SKIP_WITHOUT_SCHEDULER();
  scheduler s({.threads = 1});
  auto t = s.spawn([] {
    // A port nobody listens on: bind one, close it, connect to it.
    io::address at;
    {
      io::listener l = io::listener::bind(io::address::loopback(0));
      at = l.local_address();
    }
    try {
      io::socket::connect(at);
      ADD_FAILURE() << "connect to a closed port succeeded";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::connection_refused);
      EXPECT_NE(std::string(e.what()).find("ECONNREFUSED"), std::string::npos) << e.what();
    }
  });
  t.join();
}

TEST(IoMisuse, CallsOnAClosedSocket) {
  io::socket s;
  char b[4];
  std::error_code error;
  EXPECT_EQ(s.read_some(b, sizeof b, error), 0u);
  EXPECT_EQ(error, std::errc::bad_file_descriptor);
  EXPECT_THROW(s.write_all("x"), std::system_error);
  EXPECT_THROW(s.shutdown_write(), std::system_error);
  EXPECT_THROW(s.local_address(), std::system_error);
  s.close();  // idempotent
  io::listener l;
  EXPECT_THROW(l.accept(), std::system_error);
  EXPECT_THROW(io::socket(-1), std::system_error);
}

TEST(IoMisuse, BindingAPortInUse) {
  io::listener a = io::listener::bind(io::address::loopback(0));
  try {
    io::listener::bind(a.local_address());
    ADD_FAILURE() << "a second bind succeeded";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use);
    EXPECT_NE(std::string(e.what()).find("EADDRINUSE"), std::string::npos) << e.what();
  }
}

TEST(IoMisuse, AddressesAreParsedStrictly) {
  EXPECT_EQ(io::address::parse("127.0.0.1:8080").port(), 8080);
  EXPECT_EQ(io::address::parse("[::1]:443").to_string(), "[::1]:443");
  EXPECT_EQ(io::address::parse("10.0.0.1:0").to_string(), "10.0.0.1:0");
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":80", "localhost:80", "1.2.3.4:70000", "1.2.3.4:8x",
                          "[::1]80", "300.1.1.1:1"})
    EXPECT_THROW(io::address::parse(bad), std::system_error) << bad;
}

}  // namespace
