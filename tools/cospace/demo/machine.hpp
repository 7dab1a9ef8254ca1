// What the demo reads about the machine and the process: resident memory
// (VmRSS + VmPTE), mappings, and the limits that decide how many fibers fit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cospace::tool {

struct resident {
  std::uint64_t rss = 0;  // VmRSS, bytes
  std::uint64_t pte = 0;  // VmPTE, bytes
  std::uint64_t total() const { return rss + pte; }
};

resident read_resident();          // /proc/self/status
std::uint64_t count_mappings();    // lines of /proc/self/maps

struct machine_limits {
  std::uint64_t mem_available = 0;        // /proc/meminfo MemAvailable, bytes
  std::uint64_t commit_headroom = 0;      // CommitLimit - Committed_AS, bytes
  int overcommit_mode = 0;                // /proc/sys/vm/overcommit_memory
  std::uint64_t max_map_count = 65530;    // /proc/sys/vm/max_map_count
  std::optional<std::uint64_t> address_limit;  // RLIMIT_AS, when finite
};

machine_limits read_machine_limits();

// 1234567 -> "1,234,567"
std::string with_commas(std::uint64_t n);
// bytes -> "8.3 GiB", "512 KiB", "96 B"
std::string human_bytes(double bytes);

}  // namespace cospace::tool
