// Making the one reservation of a space.
#pragma once

#include <cospace/space.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cospace::detail {

struct reservation {
  std::uintptr_t base = 0;
  std::size_t size = 0;
  protection_mode mode = protection_mode::guard_install;
};

// What the reservation's protection depends on besides the options.
struct mode_environment {
  bool strict_overcommit = false;  // vm.overcommit_memory=2 refuses a huge writable mapping
  bool under_memcheck = false;     // its exit-time leak scan reads every readable page
};

// The environment of this process (read once per call).
mode_environment current_mode_environment() noexcept;

// Whether the reservation is made PROT_NONE (protection_mode::commit_on_use):
// the mode forced by the options if any, else under strict overcommit or memcheck.
bool chooses_commit_on_use(const space_options& options, const mode_environment& env) noexcept;

// Reserves `requested` bytes (0: automatic, see space_options::reservation).
// Throws space_error(reservation_refused) naming the sizes tried.
reservation reserve(std::size_t requested, std::size_t minimum, const space_options& options);

// Parses "123", "64K", "16G", "32T" (binary units); nullopt if malformed.
std::optional<std::size_t> parse_size(std::string_view text) noexcept;

}  // namespace cospace::detail
