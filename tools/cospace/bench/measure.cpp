#include "measure.hpp"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string_view>
#include <utility>

#if COSPACE_TOOL_USE_BOOST
#include <boost/version.hpp>
#endif

namespace cospace::tool::bench {
namespace {

// The first number after "name:" in a /proc file of "name: value" lines.
long proc_field(const char* path, std::string_view name) noexcept {
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  char line[256];
  long value = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    const std::string_view text(line);
    if (text.size() > name.size() && text.substr(0, name.size()) == name && text[name.size()] == ':') {
      value = std::strtol(line + name.size() + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return value;
}

long count_maps_lines() noexcept {
  // read(2) into a static buffer: counting allocates nothing, so adds no VMA.
  const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  static char buffer[1 << 16];
  long lines = 0;
  for (ssize_t got; (got = read(fd, buffer, sizeof buffer)) > 0;)
    lines += std::count(buffer, buffer + got, '\n');
  close(fd);
  return lines;
}

std::string cpu_model() {
  std::FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) return "unknown CPU";
  char line[512];
  std::string model = "unknown CPU";
  while (std::fgets(line, sizeof line, f) != nullptr) {
    const std::string_view text(line);
    // x86 says "model name", AArch64 and RISC-V under qemu say little or other keys.
    if (text.rfind("model name", 0) == 0 || text.rfind("uarch", 0) == 0) {
      const auto colon = text.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view value = text.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
      if (!value.empty()) model = std::string(value);
      break;
    }
  }
  std::fclose(f);
  return model;
}

}  // namespace

bool boost_available() noexcept { return COSPACE_TOOL_USE_BOOST != 0; }

std::string boost_description() {
#if COSPACE_TOOL_USE_BOOST
  return "Boost.Context " + std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000);
#elif defined(COSPACE_TOOL_HAVE_BOOST)
  return "Boost.Context left out of this sanitizer build (it does not annotate its stack switches)";
#else
  return "Boost.Context not found when cospace was built (Debian: libboost-context-dev, then rebuild)";
#endif
}

[[gnu::noinline]] void run_at_depth(std::size_t bytes, void (*fn)(void*), void* arg) {
  constexpr std::size_t frame_bytes = 256;
  volatile unsigned char frame[frame_bytes - 32];
  frame[0] = static_cast<unsigned char>(bytes);
  frame[sizeof frame - 1] = frame[0];
  if (bytes > frame_bytes) run_at_depth(bytes - frame_bytes, fn, arg);
  else fn(arg);
  frame[1] = frame[0];  // the frame stays live across the call: no tail call
}

timing_plan plan_for(bool quick) noexcept { return quick ? timing_plan{3, 0.010} : timing_plan{7, 0.100}; }

timed_op::timed_op(const timing_plan& plan, std::function<void(std::uint64_t)> batch, double counted_per_op)
    : batch_(std::move(batch)), counted_per_op_(counted_per_op) {
  for (double took = seconds(n_); took < plan.batch_seconds && n_ < (std::uint64_t{1} << 40);) {
    // Aim a little past the batch time; at most 10x a step in case the first batches were cold.
    const double factor = took > 0 ? std::clamp(plan.batch_seconds / took * 1.2, 2.0, 10.0) : 10.0;
    n_ = static_cast<std::uint64_t>(static_cast<double>(n_) * factor);
    took = seconds(n_);
  }
}

double timed_op::seconds(std::uint64_t n) const {
  const auto start = std::chrono::steady_clock::now();
  batch_(n);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double timed_op::sample() const { return seconds(n_) * 1e9 / (static_cast<double>(n_) * counted_per_op_); }

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

memory_snapshot read_memory() noexcept {
  memory_snapshot s;
  s.rss_kib = proc_field("/proc/self/status", "VmRSS");
  s.pte_kib = proc_field("/proc/self/status", "VmPTE");
  s.vmas = count_maps_lines();
  return s;
}

long available_kib() noexcept { return proc_field("/proc/meminfo", "MemAvailable"); }

std::string machine_info::one_line() const {
  char text[512];
  std::snprintf(text, sizeof text, "%s, %ld vCPUs, %.1f GiB, Linux %s %s", cpu.c_str(), vcpus, memory_gib,
                kernel.c_str(), arch.c_str());
  return text;
}

machine_info describe_machine() {
  machine_info m;
  m.cpu = cpu_model();
  m.vcpus = sysconf(_SC_NPROCESSORS_ONLN);
  m.memory_gib = static_cast<double>(proc_field("/proc/meminfo", "MemTotal")) / (1024.0 * 1024.0);
  utsname host{};
  if (uname(&host) == 0) {
    m.kernel = host.release;
    m.arch = host.machine;
  }
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &utc);
  m.date_utc = date;
  return m;
}

}  // namespace cospace::tool::bench
