// The demo's fiber body, the same for every stack kind and alternative: recurse
// until the stack is `depth` bytes below where the body started, writing each
// frame's local block so that its pages are really used, yield `yields` times
// at the bottom, then unwind and return.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cospace::tool {

// Bytes of locals per recursion level (a frame is this plus a little).
inline constexpr std::size_t frame_bytes = 512;

// Where the calling frame is: the base the depth is measured from.
[[gnu::always_inline]] inline std::uintptr_t frame_address() {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

template <class Yield>
[[gnu::noinline]] std::uint64_t descend(std::uintptr_t base, std::uint32_t depth, unsigned yields, Yield& yield) {
  volatile unsigned char block[frame_bytes];
  block[0] = 1;
  block[frame_bytes - 1] = 2;
  const auto here = reinterpret_cast<std::uintptr_t>(&block[0]);
  std::uint64_t below = 0;
  if (base - here < depth) {
    below = descend(base, depth, yields, yield);
  } else {
    for (unsigned i = 0; i < yields; ++i) yield();
  }
  // Reading the block after the call keeps the frame (no tail call).
  return below + block[0] + block[frame_bytes - 1];
}

}  // namespace cospace::tool
