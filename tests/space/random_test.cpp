// Randomised: long seeded sequences of start / recurse / yield / allocate /
// finish on real fibers, with every invariant of the space checked after
// every step. Reproduce a failure with COSPACE_TEST_SEED=<printed seed>;
// COSPACE_RANDOM_OPS sets the number of steps (default 1,000,000).
#include <cospace/space.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "../support/region_fiber.hpp"
#include "space/arena_resource.hpp"

namespace {

using cospace::protection_mode;
using cospace::space;
using cospace::space_options;
using cospace::detail::region;
using cospace::detail::stack_request;
using cospace::test::region_fiber;

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : fallback;
}

// True when the kernel cannot read the page at `address` (it is a guard).
bool unreadable(std::uintptr_t address) {
  static int fds[2] = {-1, -1};
  if (fds[0] < 0 && pipe(fds) != 0) return false;
  const bool faulted = write(fds[1], reinterpret_cast<void*>(address), 1) < 0 && errno == EFAULT;
  char sink;
  if (!faulted) (void)read(fds[0], &sink, 1);
  return faulted;
}

std::string describe(const region& r) {
  char text[256];
  std::snprintf(text, sizeof text, "region [%#zx, %#zx) kind %d zone [%#zx, %#zx) top %#zx growths %u",
                static_cast<std::size_t>(r.lo), static_cast<std::size_t>(r.hi), static_cast<int>(r.kind),
                static_cast<std::size_t>(r.zone_lo), static_cast<std::size_t>(r.zone_hi),
                static_cast<std::size_t>(r.top), r.growths);
  return text;
}

// What a fiber is told to do each time it is resumed.
struct command {
  std::size_t depth = 0;        // recurse this deep, then yield there
  std::size_t allocate = 0;     // bytes to take from the arena first
  bool finish = false;
};

struct block {
  std::uintptr_t address;
  std::size_t size;
};

struct test_fiber {
  command next;
  std::unique_ptr<cospace::detail::arena_resource> arena;
  std::vector<block> blocks;
  std::unique_ptr<region_fiber> fiber;
};

[[gnu::noinline]] void descend(std::size_t left, region_fiber& self) {
  volatile char frame[1024];
  frame[0] = 1;
  if (left > sizeof frame) descend(left - sizeof frame, self);
  else self.yield();  // suspended at depth until resumed
  frame[1] = frame[0];
}

void body(test_fiber& t, region_fiber& self) {
  t.arena = std::make_unique<cospace::detail::arena_resource>(self.region());
  for (;;) {
    if (t.next.finish) break;
    if (t.next.allocate != 0) {
      void* p = t.arena->allocate(t.next.allocate, 16);
      t.blocks.push_back({reinterpret_cast<std::uintptr_t>(p), t.next.allocate});
      static_cast<volatile char*>(p)[0] = 1;
      static_cast<volatile char*>(p)[t.next.allocate - 1] = 1;
    }
    descend(t.next.depth, self);
  }
  t.arena.reset();
}

std::string check_blocks(const std::map<test_fiber*, std::unique_ptr<test_fiber>>& fibers) {
  // Arena blocks lie in their fiber's arena (or upstream), and never overlap
  // a stack region or each other.
  std::vector<block> all;
  for (const auto& [key, t] : fibers) {
    region* arena = t->fiber->region()->arena;
    for (const block& b : t->blocks) {
      const bool in_arena = arena != nullptr && b.address >= arena->lo && b.address + b.size <= arena->hi;
      const bool in_space = t->fiber->region()->space->contains(b.address);
      if (in_space && !in_arena) return "an arena block lies in the space outside its arena";
      if (in_arena && b.address < arena->zone_lo) return "an arena block lies below the bump pointer";
      all.push_back(b);
    }
  }
  std::sort(all.begin(), all.end(), [](const block& a, const block& b) { return a.address < b.address; });
  for (std::size_t i = 1; i < all.size(); ++i)
    if (all[i - 1].address + all[i - 1].size > all[i].address) return "two arena blocks overlap";
  return "";
}

void run(protection_mode mode, std::uint64_t operations) {
  const std::uint64_t seed = env_number("COSPACE_TEST_SEED", std::random_device{}());
  SCOPED_TRACE("COSPACE_TEST_SEED=" + std::to_string(seed) + " mode " + cospace::to_string(mode));
  std::mt19937_64 random(seed);
  auto chance = [&](int percent) { return static_cast<int>(random() % 100) < percent; };

  space_options o;
  o.reservation = std::size_t{16} << 30;
  o.force_mode = true;
  o.mode = mode;
  o.parked_regions = 8;
  space s(o);
  std::map<test_fiber*, std::unique_ptr<test_fiber>> fibers;
  std::vector<test_fiber*> order;

  auto pick = [&]() -> test_fiber* { return order[random() % order.size()]; };
  auto finish = [&](test_fiber* t) {
    t->next = command{.finish = true};
    t->fiber->resume();
    EXPECT_TRUE(t->fiber->done());
    order.erase(std::find(order.begin(), order.end(), t));
    fibers.erase(t);
  };

  for (std::uint64_t step = 0; step < operations; ++step) {
    const int action = static_cast<int>(random() % 100);
    if (order.empty() || (action < 20 && order.size() < 64)) {
      auto t = std::make_unique<test_fiber>();
      stack_request request;
      if (!order.empty() && chance(30)) request.parent = pick()->fiber->region(), request.nested = true;
      test_fiber* raw = t.get();
      try {
        t->fiber = std::make_unique<region_fiber>(s.impl(), [raw](region_fiber& self) { body(*raw, self); },
                                                  request);
      } catch (const cospace::space_error& e) {
        ASSERT_EQ(e.why(), cospace::space_error::reason::exhausted) << e.what();
        continue;  // a nested parent with no room left: a clean refusal
      }
      fibers.emplace(raw, std::move(t));
      order.push_back(raw);
      raw->next = command{.depth = 512};
      raw->fiber->resume();
    } else if (action < 85) {
      test_fiber* t = pick();
      // Mostly shallow (log-uniform, 256 bytes to 64 KiB), one step in ten
      // deeper (to 1 MiB, which grows the stack), one in a thousand 8 MiB.
      const unsigned shift = random() % 1000 == 0 ? 23
                             : chance(10)          ? 17 + static_cast<unsigned>(random() % 4)
                                                   : 8 + static_cast<unsigned>(random() % 9);
      std::size_t depth = (std::size_t{1} << shift) + random() % 1024;
      // Stay within what the region can grow to now (its neighbour below may
      // have been carved from it): overflow has its own death tests.
      const region* r = t->fiber->region();
      const std::size_t allocate = chance(10) ? 16 + random() % 65536 : 0;
      std::size_t room = r->top - r->lo - o.guard_size;
      // Its first allocation carves an arena from the lower half of its free part.
      if (allocate != 0 && r->arena == nullptr) room -= (r->zone_lo - r->lo) / 2 + 64 * 1024;
      // Half the room: frames cost more than their locals (more still under ASan).
      if (2 * depth + 96 * 1024 > room) depth = room > 96 * 1024 ? (room - 96 * 1024) / 2 : 512;
      t->next = command{.depth = depth, .allocate = allocate};
      t->fiber->resume();
    } else if (action < 98) {
      finish(pick());
    } else {
      s.trim();
    }
    const std::string problem = s.impl().check_invariants();
    ASSERT_EQ(problem, "") << "after step " << step;
    ASSERT_EQ(check_blocks(fibers), "") << "after step " << step;
    if (!order.empty() && step % 16 == 0) {
      region* r = pick()->fiber->region();
      ASSERT_TRUE(unreadable(r->zone_lo) && unreadable(r->zone_hi - 1))
          << "guard zone missing after step " << step << ": " << describe(*r) << "; below "
          << (r->below ? describe(*r->below) : "none");
      ASSERT_FALSE(unreadable(r->top - 1)) << "stack top unreadable after step " << step;
    }
  }
  while (!order.empty()) finish(order.back());
  s.trim();
  EXPECT_EQ(s.impl().check_invariants(), "");
  EXPECT_EQ(s.stats().live_regions, 0u);
  EXPECT_EQ(s.stats().largest_free_span, s.impl().size()) << "the idle space is one free span again";
}

TEST(SpaceRandom, GuardInstallOrBestMode) {
  run(cospace::space(space_options{.reservation = std::size_t{1} << 30}).stats().mode,
      env_number("COSPACE_RANDOM_OPS", 1'000'000));
}

TEST(SpaceRandom, Mprotect) { run(protection_mode::mprotect, env_number("COSPACE_RANDOM_OPS", 1'000'000) / 10); }

TEST(SpaceRandom, CommitOnUse) {
  run(protection_mode::commit_on_use, env_number("COSPACE_RANDOM_OPS", 1'000'000) / 10);
}

}  // namespace
