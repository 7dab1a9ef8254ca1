// cospace::space — one reservation of address space in which every fiber's
// stack grows on demand (docs/design.md, "Recursive process spaces").
#pragma once

#include <cospace/config.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace cospace {

// Where a new stack goes.
enum class placement_policy {
  balanced,  // the top of the lower half of the largest free span (default)
  nested,    // carved from the free part of the creating fiber's own region
};

// How stacks are protected; chosen at construction, visible in stats().
enum class protection_mode {
  guard_install,  // writable reservation, guard zones by madvise(MADV_GUARD_INSTALL): no VMA per guard
  mprotect,       // writable reservation, guard zones by mprotect(PROT_NONE): two VMAs per region
  commit_on_use,  // PROT_NONE reservation made writable as stacks grow: chosen under strict
                  // overcommit, and under Valgrind's memcheck (whose leak scan at exit would
                  // read every page of a writable reservation; it skips PROT_NONE memory)
};

COSPACE_API const char* to_string(protection_mode mode) noexcept;
COSPACE_API const char* to_string(placement_policy policy) noexcept;

struct space_options {
  // Bytes of address space to reserve. 0: the environment variable
  // COSPACE_RESERVATION if set (e.g. "16G", "32T"), else as large as the
  // process can take, starting at 32 TiB and halving while refused.
  std::size_t reservation = 0;
  // The deepest any stack may grow unless a fiber asks otherwise (as Go: 1 GiB).
  std::size_t max_stack = std::size_t{1} << 30;
  // Depth of the guard zone below each stack's usable part. A frame larger
  // than this can step over it unless compiled with -fstack-clash-protection.
  std::size_t guard_size = 64 * 1024;
  // Usable stack below the top before the first growth fault.
  std::size_t initial_stack = 64 * 1024;
  placement_policy placement = placement_policy::balanced;
  // Force a protection mode instead of choosing it (commit_on_use is what strict
  // overcommit needs; forcing it tests that path on any machine, and forcing
  // another mode keeps it under memcheck).
  bool force_mode = false;
  protection_mode mode = protection_mode::guard_install;
  // Ended regions kept with their guard and top page for reuse without a
  // system call (the warm path); 0 releases every region at once.
  std::size_t parked_regions = 64;
  // Offset each stack top by a different multiple of 64 bytes within its
  // first page, so that the hot top frames of many fibers do not all fall
  // into the same cache sets. Off only to measure what it buys.
  bool colour_stacks = true;
};

struct space_stats {
  std::size_t live_regions = 0;     // stacks and arenas in use
  std::size_t parked_regions = 0;   // ended stacks kept warm for reuse
  std::size_t reserved_bytes = 0;
  std::size_t largest_free_span = 0;
  protection_mode mode = protection_mode::guard_install;
  placement_policy placement = placement_policy::balanced;
  std::uint64_t growth_events = 0;  // guard zones moved down by the fault handler
  std::uint64_t overflows_caught = 0;
  std::uint64_t bytes_released = 0; // handed back to the kernel
  std::uint64_t regions_acquired = 0;
};

// Every failure of the space is one of these, with a message naming the cause.
class COSPACE_API space_error : public std::runtime_error {
 public:
  enum class reason { bad_option, reservation_refused, exhausted, system_call_failed };
  space_error(reason why, const std::string& message) : std::runtime_error(message), why_(why) {}
  reason why() const noexcept { return why_; }

 private:
  reason why_;
};

namespace detail {
class space_impl;
}

class COSPACE_API space {
 public:
  // Reserves the address space. Throws space_error(bad_option) for options
  // that cannot work and space_error(reservation_refused) when no size works.
  explicit space(const space_options& options = {});
  space(const space&) = delete;
  space& operator=(const space&) = delete;
  // Every fiber of the space must have ended; otherwise this reports them and aborts.
  ~space();

  // The process-wide space, created on first use and never destroyed.
  static space& global();

  space_stats stats() const;
  // Releases parked regions: afterwards an idle space is one free span again.
  void trim();

  detail::space_impl& impl() noexcept { return *impl_; }

 private:
  std::unique_ptr<detail::space_impl> impl_;
};

}  // namespace cospace
