#include "machine.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string_view>

namespace cospace::tool {
namespace {

// The value of "Key:   123 kB" lines, in bytes (0 when absent).
std::uint64_t field_kib(const std::string& path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 && line[key.size()] == ':') {
      return std::stoull(line.substr(key.size() + 1)) * 1024;
    }
  }
  return 0;
}

std::uint64_t read_number(const std::string& path, std::uint64_t fallback) {
  std::ifstream in(path);
  std::uint64_t value = 0;
  return in >> value ? value : fallback;
}

}  // namespace

resident read_resident() {
  return {field_kib("/proc/self/status", "VmRSS"), field_kib("/proc/self/status", "VmPTE")};
}

std::uint64_t count_mappings() {
  std::ifstream in("/proc/self/maps");
  std::uint64_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

machine_limits read_machine_limits() {
  machine_limits m;
  m.mem_available = field_kib("/proc/meminfo", "MemAvailable");
  const std::uint64_t limit = field_kib("/proc/meminfo", "CommitLimit");
  const std::uint64_t committed = field_kib("/proc/meminfo", "Committed_AS");
  m.commit_headroom = limit > committed ? limit - committed : 0;
  m.overcommit_mode = static_cast<int>(read_number("/proc/sys/vm/overcommit_memory", 0));
  m.max_map_count = read_number("/proc/sys/vm/max_map_count", 65530);
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) m.address_limit = as.rlim_cur;
  return m;
}

std::string with_commas(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string text;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) text.push_back(',');
    text.push_back(digits[i]);
  }
  return text;
}

std::string human_bytes(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 6) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 || bytes >= 100 ? "%.0f %s" : "%.2f %s", bytes, units[unit]);
  return text;
}

}  // namespace cospace::tool
