// echo_server: echoes every byte back, one fiber per connection.
//
//   examples/echo_server [--port N] [--threads N]
//   printf 'hello\n' | nc -q1 127.0.0.1 7000
#include <cospace/io.hpp>
#include <cospace/scheduler.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

namespace io = cospace::io;

int main(int argc, char** argv) {
  long port = 7000;
  long threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    char* end = nullptr;
    if ((arg == "--port" || arg == "--threads") && i + 1 < argc) {
      const long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < 0 || v > 65535) {
        std::fprintf(stderr, "echo_server: %s wants a number from 0 to 65535\n", argv[i - 1]);
        return 2;
      }
      (arg == "--port" ? port : threads) = v;
    } else {
      std::fprintf(stderr, "usage: echo_server [--port N] [--threads N]\n");
      return 2;
    }
  }
  try {
    cospace::scheduler s({.threads = static_cast<unsigned>(threads)});
    io::listener l = io::listener::bind(io::address::any(static_cast<std::uint16_t>(port)));
    std::printf("echo_server: listening on %s\n", l.local_address().to_string().c_str());
    std::fflush(stdout);
    s.spawn([&] {
       for (;;) {
         cospace::spawn([c = l.accept()]() mutable {
           char buffer[4096];
           std::error_code error;
           while (const std::size_t n = c.read_some(buffer, sizeof buffer, error)) {
             if (c.write_all(buffer, n, error) != n) break;
           }
         }).detach();
       }
     }).join();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
  }
}
