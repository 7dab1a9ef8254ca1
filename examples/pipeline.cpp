// Producer and consumer as fibers: a producer reads "records", a filter stage
// consumes the producer and passes on what matters, and main consumes the
// filter. Each stage is written as a straight loop; the fibers hand values
// over one at a time, and nothing is buffered between them.
#include <cospace/fiber.hpp>
#include <cospace/generator.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view log_text =
    "GET /index.html 200\n"
    "GET /missing 404\n"
    "POST /login 200\n"
    "GET /admin 403\n"
    "GET /index.html 200\n"
    "GET /missing 404\n"
    "GET /missing 404\n";

struct request {
  std::string path;
  int status;
};

// Producer: one request per line of the log.
void read_log(cospace::generator<request>::yielder& out) {
  std::string_view rest = log_text;
  while (!rest.empty()) {
    const std::string_view line = rest.substr(0, rest.find('\n'));
    rest.remove_prefix(line.size() + 1);
    const auto first = line.find(' ');
    const auto second = line.rfind(' ');
    out.yield(request{std::string(line.substr(first + 1, second - first - 1)),
                      std::stoi(std::string(line.substr(second + 1)))});
  }
}

}  // namespace

int main() {
  // Filter: starts its own producer and pulls from it (a fiber resuming a
  // fiber), passing on the failed requests only. (Making the producer inside
  // the filter also suits the sjlj backend, which can only enter a fresh
  // stack lying below the fiber that first resumes it.)
  cospace::generator<request> failures([](auto& out) {
    cospace::generator<request> producer(read_log, {.name = "producer"});
    for (request& r : producer) {
      if (r.status >= 400) out.yield(std::move(r));
    }
  }, {.name = "failures"});

  // Consumer: counts failures per path.
  std::map<std::string, int> count;
  for (const request& r : failures) ++count[r.path + " " + std::to_string(r.status)];
  for (const auto& [what, n] : count) std::printf("%d x %s\n", n, what.c_str());
}
