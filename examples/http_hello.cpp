// http_hello: an HTTP/1.1 server, one fiber per connection, on every core.
//
//   examples/http_hello [--port N] [--threads N]
//
// Answers `GET /` with 200 OK and a short body, anything else with 404;
// keeps connections alive (HTTP/1.1 default, `Connection: close` honoured)
// and answers pipelined requests in order, in one write per batch.
#include <cospace/io.hpp>
#include <cospace/scheduler.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <string>
#include <string_view>

namespace {

namespace io = cospace::io;

constexpr std::string_view body = "Hello, World!\n";

// "Date: Mon, 23 Nov 2026 17:00:00 GMT\r\n", refreshed once a second. Each
// connection fiber stays on its worker's thread, so a thread-local is safe.
std::string_view date_header() {
  thread_local std::time_t last = 0;
  thread_local char text[64];
  thread_local std::size_t size = 0;
  const std::time_t now = std::time(nullptr);
  if (now != last) {
    last = now;
    std::tm t;
    gmtime_r(&now, &t);
    size = std::strftime(text, sizeof text, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &t);
  }
  return {text, size};
}

void append_response(std::string& out, bool found, bool close) {
  out += found ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 404 Not Found\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += date_header();
  out += "Content-Length: ";
  out += found ? std::to_string(body.size()) : "10";
  out += close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n";
  out += found ? body : std::string_view("not found\n");
}

bool header_is(std::string_view headers, std::string_view name, std::string_view value) {
  // Case-insensitive search for "\r\nName: value" (enough for this demo).
  for (std::size_t at = headers.find("\r\n"); at != std::string_view::npos; at = headers.find("\r\n", at + 2)) {
    std::string_view line = headers.substr(at + 2);
    line = line.substr(0, line.find("\r\n"));
    if (line.size() < name.size() + 1 || strncasecmp(line.data(), name.data(), name.size()) != 0 ||
        line[name.size()] != ':')
      continue;
    std::string_view v = line.substr(name.size() + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (v.size() == value.size() && strncasecmp(v.data(), value.data(), value.size()) == 0) return true;
  }
  return false;
}

std::size_t content_length(std::string_view headers) {
  for (std::size_t at = headers.find("\r\n"); at != std::string_view::npos; at = headers.find("\r\n", at + 2)) {
    std::string_view line = headers.substr(at + 2);
    if (line.size() > 15 && strncasecmp(line.data(), "Content-Length:", 15) == 0)
      return std::strtoul(std::string(line.substr(15, line.find("\r\n") - 15)).c_str(), nullptr, 10);
  }
  return 0;
}

void serve(io::socket c) {
  std::string in;
  std::string out;
  char buffer[4096];
  for (;;) {
    std::error_code error;
    const std::size_t n = c.read_some(buffer, sizeof buffer, error);
    if (error || n == 0) return;
    in.append(buffer, n);
    bool close = false;
    std::size_t consumed = 0;
    for (;;) {  // every complete request in the buffer (pipelining)
      const std::size_t end = in.find("\r\n\r\n", consumed);
      if (end == std::string::npos) break;
      const std::string_view head(in.data() + consumed, end + 2 - consumed);
      const std::size_t length = content_length(head);
      if (end + 4 + length > in.size()) break;  // the body is still coming
      const bool found = head.starts_with("GET / ") || head.starts_with("GET /?");
      const bool http10 = head.substr(0, head.find("\r\n")).ends_with("HTTP/1.0");
      close = header_is(head, "Connection", "close") || (http10 && !header_is(head, "Connection", "keep-alive"));
      append_response(out, found, close);
      consumed = end + 4 + length;
      if (close) break;
    }
    in.erase(0, consumed);
    if (!out.empty()) {
      c.write_all(out.data(), out.size(), error);
      out.clear();
      if (error) return;
    }
    if (close || in.size() > 64 * 1024) return;
  }
}

int parse_number(const char* flag, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 0 || v > 65535) {
    std::fprintf(stderr, "http_hello: %s wants a number from 0 to 65535, not '%s'\n", flag, text);
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 8080;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--port" || arg == "--threads") && i + 1 < argc) {
      (arg == "--port" ? port : threads) = parse_number(argv[i], argv[i + 1]);
      ++i;
    } else {
      std::fprintf(stderr, "usage: http_hello [--port N] [--threads N]\n");
      return 2;
    }
  }
  try {
    cospace::scheduler s({.threads = static_cast<unsigned>(threads)});
    io::listener l = io::listener::bind(io::address::any(static_cast<std::uint16_t>(port)));
    std::printf("http_hello: listening on %s with %u worker threads\n", l.local_address().to_string().c_str(),
                s.threads());
    std::fflush(stdout);
    s.spawn([&] {
       for (;;) {
         io::socket c = l.accept();
         cospace::spawn([c = std::move(c)]() mutable { serve(std::move(c)); }).detach();
       }
     }).join();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http_hello: %s\n", e.what());
    return 1;
  }
}
