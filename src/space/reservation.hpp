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

// Reserves `requested` bytes (0: automatic, see space_options::reservation).
// Throws space_error(reservation_refused) naming the sizes tried.
reservation reserve(std::size_t requested, std::size_t minimum, const space_options& options);

// Parses "123", "64K", "16G", "32T" (binary units); nullopt if malformed.
std::optional<std::size_t> parse_size(std::string_view text) noexcept;

}  // namespace cospace::detail
