// For tests of what happens deep in a region stack, right above its guard zone.
#pragma once

#include <cstddef>
#include <cstdint>

#include "space/region.hpp"

namespace cospace::test {

// Descends the running region stack `r` until its guard zone lies less than
// `within` bytes below, then calls `at_depth` there.
template <class F>
[[gnu::noinline]] void near_guard(const detail::region& r, std::size_t within, F&& at_depth) {
  volatile char frame[512];
  frame[0] = 1;
  const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (here - r.zone_hi < within) at_depth();
  else near_guard(r, within, at_depth);
  frame[1] = frame[0];
}

}  // namespace cospace::test
