#include "depth_mix.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>
#include <utility>

namespace cospace::tool {
namespace {

struct preset {
  std::string_view name;
  std::string_view spec;
};

constexpr preset presets[] = {
    {"heavy", "4:256M,1%:4K-1M,128-1K"},
    {"uniform", "128..16K"},
    {"shallow", "128-1K"},
};

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::uint64_t parse_count(std::string_view text, std::string_view what) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw depth_mix_error(std::string(what) + " " + quoted(text) + " is not a whole number");
  }
  return value;
}

depth_component parse_component(std::string_view text) {
  depth_component c;
  std::string_view range = text;
  if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    std::string_view weight = text.substr(0, colon);
    range = text.substr(colon + 1);
    if (!weight.empty() && weight.back() == '%') {
      weight.remove_suffix(1);
      double percent = 0;
      const auto [end, error] = std::from_chars(weight.data(), weight.data() + weight.size(), percent);
      if (error != std::errc() || end != weight.data() + weight.size() || weight.empty() ||
          !(percent > 0 && percent <= 100)) {
        throw depth_mix_error("the share " + quoted(text.substr(0, colon)) +
                              " is not a percentage in (0, 100]");
      }
      c.weight = depth_component::weight_kind::percent;
      c.weight_value = percent;
    } else {
      c.weight = depth_component::weight_kind::count;
      c.weight_value = static_cast<double>(parse_count(weight, "the count"));
    }
  }
  if (const auto dots = range.find(".."); dots != std::string_view::npos) {
    c.spread = depth_component::shape::uniform;
    c.lo = parse_size(range.substr(0, dots));
    c.hi = parse_size(range.substr(dots + 2));
  } else if (const auto dash = range.find('-'); dash != std::string_view::npos) {
    c.spread = depth_component::shape::log_uniform;
    c.lo = parse_size(range.substr(0, dash));
    c.hi = parse_size(range.substr(dash + 1));
    if (c.lo == 0) throw depth_mix_error("a log-uniform range " + quoted(range) + " must start above 0");
  } else {
    c.lo = c.hi = parse_size(range);
  }
  if (c.spread != depth_component::shape::exact && c.hi <= c.lo) {
    throw depth_mix_error("the range " + quoted(range) + " is empty (its end must be above its start)");
  }
  if (c.hi > max_demo_depth) {
    throw depth_mix_error("the depth " + quoted(range) + " is deeper than the demo allows (512M)");
  }
  return c;
}

}  // namespace

std::uint64_t parse_size(std::string_view text) {
  std::uint64_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K': case 'k': scale = std::uint64_t{1} << 10; break;
      case 'M': case 'm': scale = std::uint64_t{1} << 20; break;
      case 'G': case 'g': scale = std::uint64_t{1} << 30; break;
      default: break;
    }
  }
  std::string_view digits = scale == 1 ? text : text.substr(0, text.size() - 1);
  const std::uint64_t value = parse_count(digits, "the size");
  if (value > (std::uint64_t{1} << 40) / scale) throw depth_mix_error("the size " + quoted(text) + " is too large");
  return value * scale;
}

depth_mix parse_depth_mix(std::string_view text) {
  depth_mix mix;
  mix.name = std::string(text);
  mix.spec = std::string(text);
  for (const preset& p : presets) {
    if (text == p.name) mix.spec = std::string(p.spec);
  }
  std::string_view rest = mix.spec;
  bool have_rest = false;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    if (part.empty()) throw depth_mix_error("an empty component in the depth mix " + quoted(mix.spec));
    depth_component c = parse_component(part);
    if (c.weight == depth_component::weight_kind::rest) {
      if (have_rest) {
        throw depth_mix_error("the depth mix " + quoted(mix.spec) +
                              " has two components without a weight (only one may take the rest)");
      }
      have_rest = true;
    }
    mix.components.push_back(c);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return mix;
}

std::vector<std::uint32_t> draw_depths(const depth_mix& mix, std::uint64_t fibers, std::uint64_t seed) {
  // How many fibers each component gets: counts, then shares, then the rest.
  std::vector<std::uint64_t> share(mix.components.size(), 0);
  std::uint64_t assigned = 0;
  for (std::size_t i = 0; i < mix.components.size(); ++i) {
    const depth_component& c = mix.components[i];
    if (c.weight == depth_component::weight_kind::count) {
      // A count larger than the run is capped: "4:256M" with 3 fibers makes 3.
      share[i] = std::min(static_cast<std::uint64_t>(c.weight_value), fibers - assigned);
      assigned += share[i];
    }
  }
  for (std::size_t i = 0; i < mix.components.size(); ++i) {
    const depth_component& c = mix.components[i];
    if (c.weight == depth_component::weight_kind::percent) {
      share[i] = static_cast<std::uint64_t>(std::llround(c.weight_value / 100.0 * static_cast<double>(fibers)));
      assigned += share[i];
    }
  }
  if (assigned > fibers) {
    throw depth_mix_error("the depth mix '" + mix.spec + "' asks for " + std::to_string(assigned) +
                          " fibers but only " + std::to_string(fibers) + " run");
  }
  bool have_rest = false;
  for (std::size_t i = 0; i < mix.components.size(); ++i) {
    if (mix.components[i].weight == depth_component::weight_kind::rest) {
      share[i] = fibers - assigned;
      have_rest = true;
    }
  }
  if (!have_rest && assigned != fibers) {
    throw depth_mix_error("the depth mix '" + mix.spec + "' covers " + std::to_string(assigned) + " of " +
                          std::to_string(fibers) + " fibers (give one component no weight to take the rest)");
  }

  std::mt19937_64 random(seed);
  std::vector<std::uint32_t> depths;
  depths.reserve(fibers);
  for (std::size_t i = 0; i < mix.components.size(); ++i) {
    const depth_component& c = mix.components[i];
    for (std::uint64_t n = 0; n < share[i]; ++n) {
      std::uint64_t depth = c.lo;
      if (c.spread == depth_component::shape::uniform) {
        depth = std::uniform_int_distribution<std::uint64_t>(c.lo, c.hi - 1)(random);
      } else if (c.spread == depth_component::shape::log_uniform) {
        const double at = std::uniform_real_distribution<double>(std::log(static_cast<double>(c.lo)),
                                                                 std::log(static_cast<double>(c.hi)))(random);
        depth = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(std::exp(at)), c.lo, c.hi - 1);
      }
      depths.push_back(static_cast<std::uint32_t>(depth));
    }
  }
  std::shuffle(depths.begin(), depths.end(), random);
  return depths;
}

}  // namespace cospace::tool
