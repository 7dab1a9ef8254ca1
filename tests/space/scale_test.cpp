// Scale: what the space promises at the sizes it is built for. These need a
// reservation of terabytes (the automatic size on x86-64); with a small one
// (qemu-user, or COSPACE_RESERVATION set low) they skip and say why.
#include <cospace/space.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "../support/region_fiber.hpp"

namespace {

using cospace::protection_mode;
using cospace::space;
using cospace::space_options;
using cospace::detail::region;
using cospace::test::recurse;
using cospace::test::region_fiber;

constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr std::size_t TiB = std::size_t{1} << 40;

// VMAs of /proc/self/maps that overlap [lo, hi).
std::size_t count_vmas(std::uintptr_t lo, std::uintptr_t hi) {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) {
    const std::uintptr_t start = std::stoull(line, nullptr, 16);
    const std::uintptr_t end = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
    if (start < hi && end > lo) ++n;
  }
  return n;
}

// A space as large as the process can take, or a skip.
std::unique_ptr<space> large_space(std::size_t needed) {
  auto s = std::make_unique<space>(space_options{});
  if (s->stats().reserved_bytes < needed) return nullptr;
  return s;
}

TEST(SpaceScale, HundredThousandSuspendedFibersThenOneRecursing128MiB) {
  auto s = large_space(4 * TiB);
  if (!s) GTEST_SKIP() << "needs a reservation of at least 4 TiB";
  std::vector<std::unique_ptr<region_fiber>> fibers;
  fibers.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    fibers.push_back(std::make_unique<region_fiber>(s->impl(), [](region_fiber& self) {
      recurse(1024);
      self.yield();
    }));
    fibers.back()->resume();
  }
  EXPECT_EQ(s->stats().live_regions, 100'000u);
  region_fiber deep(s->impl(), [](region_fiber&) { recurse(128 * MiB); });
  deep.resume();
  EXPECT_TRUE(deep.done());
  EXPECT_GE(deep.region()->stack_depth(), 128 * MiB);
  for (auto& f : fibers) f->resume();
  fibers.clear();
  s->trim();
  EXPECT_EQ(s->impl().check_invariants(), "");
}

TEST(SpaceScale, ALoneFiberRecursing768MiB) {
  auto s = large_space(2 * TiB);
  if (!s) GTEST_SKIP() << "needs a reservation of at least 2 TiB";
  region_fiber f(s->impl(), [](region_fiber&) { recurse(768 * MiB); });
  f.resume();
  EXPECT_TRUE(f.done());
  EXPECT_GE(f.region()->stack_depth(), 768 * MiB);
  EXPECT_LE(s->stats().growth_events, 20u) << "growth doubles: O(log depth) faults";
}

#if defined(__SANITIZE_ADDRESS__)
constexpr int many_regions = 100'000;  // AddressSanitizer's own memory would not hold a million
#else
constexpr int many_regions = 1'000'000;
#endif

TEST(SpaceScale, AMillionGuardedRegionsCostNoMoreVmasThanOne) {
  auto s = large_space(4 * TiB);
  if (!s) GTEST_SKIP() << "needs a reservation of at least 4 TiB";
  if (s->stats().mode != protection_mode::guard_install)
    GTEST_SKIP() << "madvise(MADV_GUARD_INSTALL) does not work here (Linux >= 6.13 needed); mode is "
                 << cospace::to_string(s->stats().mode);
  std::vector<region*> regions;
  regions.reserve(many_regions);
  regions.push_back(s->impl().acquire_stack({}));
  const std::uintptr_t lo = s->impl().base(), hi = lo + s->impl().size();
  EXPECT_EQ(count_vmas(lo, hi), 1u);
  for (int i = 1; i < many_regions; ++i) regions.push_back(s->impl().acquire_stack({}));
  EXPECT_EQ(count_vmas(lo, hi), 1u) << "guards must not split the reservation's VMA";
  EXPECT_EQ(s->stats().live_regions, static_cast<std::size_t>(many_regions));
  for (region* r : regions) s->impl().release_stack(r);
  s->trim();
  EXPECT_EQ(s->stats().largest_free_span, s->impl().size());
}

}  // namespace
