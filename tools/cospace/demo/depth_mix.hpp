// The depth mix of `cospace demo`: how deep each fiber's stack goes before it
// suspends. A mix is a comma-separated list of components:
//
//   [WEIGHT:]RANGE      WEIGHT  N (that many fibers) or P% (that share of them)
//                       RANGE   SIZE        every fiber of the component at SIZE
//                               LO-HI       log-uniform in [LO, HI): each doubling
//                                           equally likely (a heavy tail)
//                               LO..HI      uniform in [LO, HI)
//   SIZE is bytes with an optional K, M or G suffix (powers of 1024).
//
// Counts are taken first (capped at the number of fibers), then shares of
// all fibers; the one component without a weight (at most one) gets the
// rest. The presets:
//
//   heavy    4:256M,1%:4K-1M,128-1K   (the default: most fibers under 1 KiB,
//                                      1% between 4 KiB and 1 MiB, 4 at 256 MiB)
//   uniform  128..16K
//   shallow  128-1K
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cospace::tool {

// The deepest a demo fiber may go: half of a region fiber's default limit.
inline constexpr std::uint64_t max_demo_depth = std::uint64_t{512} << 20;

struct depth_component {
  enum class weight_kind { count, percent, rest } weight = weight_kind::rest;
  double weight_value = 0;  // fibers (count) or percent
  enum class shape { exact, log_uniform, uniform } spread = shape::exact;
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;  // exclusive; equals lo for exact
};

struct depth_mix {
  std::string spec;  // as given, presets expanded
  std::string name;  // the preset's name, or the spec
  std::vector<depth_component> components;
};

class depth_mix_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Parses a preset name or a spec; throws depth_mix_error naming the mistake.
depth_mix parse_depth_mix(std::string_view text);

// One depth per fiber, in bytes, shuffled with `seed`. Throws depth_mix_error
// when the weights do not cover `fibers` exactly.
std::vector<std::uint32_t> draw_depths(const depth_mix& mix, std::uint64_t fibers, std::uint64_t seed);

// "123", "4K", "256M": bytes for a whole size; throws depth_mix_error.
std::uint64_t parse_size(std::string_view text);

}  // namespace cospace::tool
