// Two contexts ping-ponging on one backend: the context layer's demo.
#pragma once

#include <cstdint>

#include "context/backends.hpp"

namespace cospace::tools {

struct pingpong_result {
  std::uint64_t switches;  // one-way switches
  double seconds;
};

// Runs `round_trips` round trips between the caller and one context on
// backend `b`; throws std::runtime_error if the context cannot be made.
pingpong_result pingpong(const context::backend& b, std::uint64_t round_trips);

}  // namespace cospace::tools
