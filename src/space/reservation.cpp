#include "reservation.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "os.hpp"
#include "protection.hpp"
#include "sanitizer.hpp"

namespace cospace::detail {
namespace {

constexpr std::size_t automatic_start = std::size_t{32} << 40;  // 32 TiB
constexpr std::size_t automatic_floor = std::size_t{1} << 30;   // 1 GiB

// Strict overcommit (vm.overcommit_memory=2) refuses a huge writable mapping
// even with MAP_NORESERVE; a PROT_NONE one is never charged.
bool strict_overcommit() {
  std::FILE* f = std::fopen("/proc/sys/vm/overcommit_memory", "r");
  if (f == nullptr) return false;
  int value = 0;
  const bool read = std::fscanf(f, "%d", &value) == 1;
  std::fclose(f);
  return read && value == 2;
}

void* try_map(std::size_t size, int protection) {
  return os().mmap(nullptr, size, protection,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
}

std::size_t requested_size(std::size_t requested) {
  if (requested != 0) return requested;
  if (const char* env = std::getenv("COSPACE_RESERVATION"); env != nullptr && *env != '\0') {
    if (auto size = parse_size(env)) return *size;
    throw space_error(space_error::reason::bad_option,
                      std::string("COSPACE_RESERVATION='") + env +
                          "' is not a size (examples: 64G, 16T, 1073741824)");
  }
  return 0;
}

}  // namespace

std::optional<std::size_t> parse_size(std::string_view text) noexcept {
  if (text.empty()) return std::nullopt;
  std::size_t value = 0;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (value > (~std::size_t{0} - 9) / 10) return std::nullopt;
    value = value * 10 + static_cast<std::size_t>(text[i] - '0');
  }
  if (i == 0) return std::nullopt;
  unsigned shift = 0;
  if (i < text.size()) {
    switch (text[i]) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      default: return std::nullopt;
    }
    ++i;
    if (i < text.size() && (text[i] == 'i' || text[i] == 'B')) ++i;  // KiB, GB
    if (i < text.size() && text[i] == 'B') ++i;
  }
  if (i != text.size()) return std::nullopt;
  if (shift != 0 && value > (~std::size_t{0} >> shift)) return std::nullopt;
  return value << shift;
}

mode_environment current_mode_environment() noexcept {
  return {.strict_overcommit = strict_overcommit(), .under_memcheck = under_memcheck()};
}

bool chooses_commit_on_use(const space_options& options, const mode_environment& env) noexcept {
  if (options.force_mode) return options.mode == protection_mode::commit_on_use;
  // Under memcheck a writable reservation of tens of GiB would be read page by
  // page by the leak scan at exit, costing as much memory as it reads; the
  // scan skips PROT_NONE memory, which is all of it but the stacks in use.
  return env.strict_overcommit || env.under_memcheck;
}

reservation reserve(std::size_t requested, std::size_t minimum, const space_options& options) {
  const std::size_t page = page_size();
  std::size_t size = requested_size(requested);
  const bool automatic = size == 0;
  if (automatic) size = automatic_start;
  size = (size + page - 1) / page * page;
  if (size < minimum) {
    throw space_error(space_error::reason::bad_option,
                      "space_options::reservation of " + std::to_string(size) +
                          " bytes cannot hold one region (" + std::to_string(minimum) + " bytes)");
  }

  const bool commit_on_use = chooses_commit_on_use(options, current_mode_environment());
  const int protection = commit_on_use ? PROT_NONE : PROT_READ | PROT_WRITE;
  std::string tried;
  int error = 0;
  for (;;) {
    void* p = try_map(size, protection);
    if (p != MAP_FAILED) {
      reservation r;
      r.base = reinterpret_cast<std::uintptr_t>(p);
      r.size = size;
      // A transparent huge page would make one touched byte cost 2 MiB.
      // Best effort: kernels without THP refuse the advice, which is fine.
      (void)os().madvise(p, size, MADV_NOHUGEPAGE);
      if (commit_on_use) r.mode = protection_mode::commit_on_use;
      else if (options.force_mode) r.mode = options.mode;
      else r.mode = probe_guard_mode();
      return r;
    }
    error = errno;
    tried += (tried.empty() ? "" : ", ") + std::to_string(size >> 20) + " MiB";
    if (!automatic || size / 2 < std::max(automatic_floor, minimum)) break;
    size /= 2;
  }
  throw space_error(space_error::reason::reservation_refused,
                    "cannot reserve address space for the fiber space (tried " + tried +
                        "): " + describe_failure("mmap", nullptr, size, error) +
                        "; set COSPACE_RESERVATION or space_options::reservation to a size the "
                        "process may map");
}

}  // namespace cospace::detail
