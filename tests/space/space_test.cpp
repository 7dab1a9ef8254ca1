// The space: options, placement, growth, release, arenas and stats.
#include <cospace/space.hpp>

#include <gtest/gtest.h>

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <memory_resource>
#include <set>
#include <string>
#include <vector>

#include "../support/near_guard.hpp"
#include "../support/region_fiber.hpp"
#include "space/arena_resource.hpp"
#include "space/fault_handler.hpp"
#include "space/os.hpp"
#include "space/protection.hpp"
#include "space/reservation.hpp"
#include "space/space_impl.hpp"

namespace {

using cospace::placement_policy;
using cospace::protection_mode;
using cospace::space;
using cospace::space_error;
using cospace::space_options;
using cospace::detail::region;
using cospace::detail::space_impl;
using cospace::detail::stack_request;
using cospace::test::near_guard;
using cospace::test::recurse;
using cospace::test::region_fiber;

constexpr std::size_t GiB = std::size_t{1} << 30;
constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr std::size_t KiB = std::size_t{1} << 10;

space_options small(std::size_t reservation = 4 * GiB) {
  space_options o;
  o.reservation = reservation;
  return o;
}

void expect_invariants(const space& s) {
  const std::string problem = const_cast<space&>(s).impl().check_invariants();
  EXPECT_EQ(problem, "");
}

// ---- options ---------------------------------------------------------------

TEST(SpaceOptions, RefusesOptionsThatCannotWork) {
  auto expect_refused = [](space_options o, const std::string& names) {
    try {
      space s(o);
      ADD_FAILURE() << "accepted options that cannot work: " << names;
    } catch (const space_error& e) {
      EXPECT_EQ(e.why(), space_error::reason::bad_option);
      EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
    }
  };
  space_options o = small();
  o.max_stack = 100;
  expect_refused(o, "max_stack");
  o = small();
  o.guard_size = 0;
  expect_refused(o, "guard_size");
  o = small();
  o.initial_stack = 1;
  expect_refused(o, "initial_stack");
  o = small();
  o.placement = static_cast<placement_policy>(7);
  expect_refused(o, "placement");
  o = small(64 * KiB);
  expect_refused(o, "reservation");
}

TEST(SpaceOptions, ParsesSizes) {
  using cospace::detail::parse_size;
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64K"), 64 * KiB);
  EXPECT_EQ(parse_size("16G"), 16 * GiB);
  EXPECT_EQ(parse_size("2GiB"), 2 * GiB);
  EXPECT_EQ(parse_size("32T"), std::size_t{32} << 40);
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("G"));
  EXPECT_FALSE(parse_size("12Q"));
  EXPECT_FALSE(parse_size("99999999999999999999999"));
}

TEST(SpaceOptions, EnvironmentSetsTheAutomaticSize) {
  setenv("COSPACE_RESERVATION", "3G", 1);
  {
    space s;
    EXPECT_EQ(s.stats().reserved_bytes, 3 * GiB);
  }
  setenv("COSPACE_RESERVATION", "lots", 1);
  try {
    space s;
    ADD_FAILURE() << "accepted COSPACE_RESERVATION=lots";
  } catch (const space_error& e) {
    EXPECT_EQ(e.why(), space_error::reason::bad_option);
    EXPECT_NE(std::string(e.what()).find("COSPACE_RESERVATION"), std::string::npos);
  }
  unsetenv("COSPACE_RESERVATION");
}

// The reservation's mode: the one forced by the options, else commit_on_use
// where a writable reservation is refused (strict overcommit) or costly
// (memcheck's leak scan at exit reads every readable page), else the probe's.
TEST(SpaceOptions, CommitOnUseUnderStrictOvercommitOrMemcheckUnlessAModeIsForced) {
  using cospace::detail::chooses_commit_on_use;
  using cospace::detail::mode_environment;
  const mode_environment environments[] = {
      {.strict_overcommit = false, .under_memcheck = false},
      {.strict_overcommit = true, .under_memcheck = false},
      {.strict_overcommit = false, .under_memcheck = true},
      {.strict_overcommit = true, .under_memcheck = true}};
  const space_options automatic;
  for (const mode_environment& env : environments) {
    SCOPED_TRACE(std::string("strict overcommit ") + (env.strict_overcommit ? "yes" : "no") +
                 ", memcheck " + (env.under_memcheck ? "yes" : "no"));
    EXPECT_EQ(chooses_commit_on_use(automatic, env), env.strict_overcommit || env.under_memcheck);
    for (protection_mode mode : {protection_mode::guard_install, protection_mode::mprotect,
                                 protection_mode::commit_on_use}) {
      space_options forced;
      forced.force_mode = true;
      forced.mode = mode;
      EXPECT_EQ(chooses_commit_on_use(forced, env), mode == protection_mode::commit_on_use)
          << "forced " << cospace::to_string(mode);
    }
  }
}

// The same decision, made for this process and reported by stats(): under
// `valgrind build/test/tests/space_test` every automatic space (the global one
// too) is commit_on_use, and a forced mode is still the forced one.
TEST(SpaceOptions, TheAutomaticModeFollowsThisProcesssEnvironment) {
  const cospace::detail::mode_environment env = cospace::detail::current_mode_environment();
  const bool commit_on_use = cospace::detail::chooses_commit_on_use({}, env);
  EXPECT_EQ(space(small(GiB)).stats().mode == protection_mode::commit_on_use, commit_on_use);
  EXPECT_EQ(space::global().stats().mode == protection_mode::commit_on_use, commit_on_use);
  if (env.under_memcheck) {
    EXPECT_TRUE(commit_on_use);
  }
  space_options forced = small(GiB);
  forced.force_mode = true;
  forced.mode = protection_mode::mprotect;
  EXPECT_EQ(space(forced).stats().mode, protection_mode::mprotect);
}

TEST(SpaceOptions, GlobalSpaceExistsAndIsUsable) {
  space& g = space::global();
  EXPECT_EQ(&g, &space::global());
  EXPECT_GE(g.stats().reserved_bytes, GiB);
  region_fiber f(g.impl(), [](region_fiber&) { recurse(256 * KiB); });
  f.resume();
  EXPECT_TRUE(f.done());
}

// ---- placement -------------------------------------------------------------

TEST(SpacePlacement, FirstStackTakesTheTopThenEachTakesTheLowerHalfOfTheLargestFreePart) {
  space s(small(8 * GiB));
  space_impl& impl = s.impl();
  const std::uintptr_t end = impl.base() + impl.size();
  region* a = impl.acquire_stack({});
  EXPECT_EQ(a->hi, end) << "the first stack takes the top of the reservation";
  const std::size_t a_free = a->free_bytes();
  region* b = impl.acquire_stack({});
  EXPECT_EQ(b->hi, a->lo) << "the second sits directly below the first";
  EXPECT_EQ(b->lo, impl.base());
  EXPECT_NEAR(static_cast<double>(b->hi - b->lo), static_cast<double>(a_free) / 2, 64.0 * KiB);
  region* c = impl.acquire_stack({});
  // The largest free part is now A's (half of its original) or B's (B's
  // region minus its stack): both about a quarter of the reservation.
  EXPECT_TRUE(c->hi == a->lo || c->hi == b->lo);
  expect_invariants(s);
  for (region* r : {a, b, c}) impl.release_stack(r);
  s.trim();
  expect_invariants(s);
  EXPECT_EQ(s.stats().largest_free_span, impl.size()) << "an idle space is one free span again";
}

TEST(SpacePlacement, NestedChildrenAreCarvedFromTheParentsRegionBelowIt) {
  space_options o = small(8 * GiB);
  o.placement = placement_policy::nested;
  space s(o);
  space_impl& impl = s.impl();
  region* parent = impl.acquire_stack({});
  region* child = impl.acquire_stack({.parent = parent});
  region* grandchild = impl.acquire_stack({.parent = child});
  EXPECT_EQ(child->hi, parent->lo);
  EXPECT_EQ(grandchild->hi, child->lo);
  EXPECT_LT(grandchild->top, child->top);
  EXPECT_LT(child->top, parent->top);
  expect_invariants(s);
  impl.release_stack(grandchild);
  impl.release_stack(child);
  impl.release_stack(parent);
  s.trim();
  EXPECT_EQ(s.stats().largest_free_span, impl.size());
}

TEST(SpacePlacement, StackTopsAreColouredAcrossPagesAndLines) {
  space_options o = small(8 * GiB);
  o.parked_regions = 0;
  space s(o);
  std::vector<region*> regions;
  std::set<std::uintptr_t> lines, pages;
  for (int i = 0; i < 512; ++i) {
    region* r = s.impl().acquire_stack({});
    regions.push_back(r);
    EXPECT_EQ(r->top % 64, 0u);
    lines.insert(r->top % 4096);
    pages.insert((r->top >> 12) % 16);
    // The line offset stays below 2 KiB: at least 2 KiB of the top page lie
    // below the top, so a fiber using ~1 KiB touches one page.
    const std::uintptr_t room_in_top_page = r->top % 4096 == 0 ? 4096 : r->top % 4096;
    EXPECT_GE(room_in_top_page, 2048u);
  }
  EXPECT_EQ(pages.size(), 16u) << "stack tops should differ in their page-address bits";
  EXPECT_EQ(lines.size(), 32u) << "stack tops should spread over the 64-byte lines of a page";
  for (region* r : regions) s.impl().release_stack(r);
  space_options plain = o;
  plain.colour_stacks = false;
  space uncoloured(plain);
  region* r = uncoloured.impl().acquire_stack({});
  EXPECT_EQ(r->top, r->hi);
  uncoloured.impl().release_stack(r);
}

TEST(SpacePlacement, ExhaustionIsAClearError) {
  space_options o = small(16 * MiB);
  o.parked_regions = 0;
  space s(o);
  std::vector<region*> regions;
  try {
    for (int i = 0; i < 10000; ++i) regions.push_back(s.impl().acquire_stack({}));
    ADD_FAILURE() << "a 16 MiB space never ran out";
  } catch (const space_error& e) {
    EXPECT_EQ(e.why(), space_error::reason::exhausted);
    const std::string what = e.what();
    EXPECT_NE(what.find("no free span"), std::string::npos) << what;
    // The figures it gives must explain the refusal.
    const std::size_t largest_at = what.find("largest free part ");
    const std::size_t needs_at = what.find("needs ");
    ASSERT_NE(largest_at, std::string::npos) << what;
    ASSERT_NE(needs_at, std::string::npos) << what;
    const std::size_t largest = std::stoull(what.substr(largest_at + 18));
    const std::size_t needs = std::stoull(what.substr(needs_at + 6));
    EXPECT_GT(needs, largest) << what;
  }
  EXPECT_GT(regions.size(), 4u);
  expect_invariants(s);
  for (region* r : regions) s.impl().release_stack(r);
  expect_invariants(s);
  EXPECT_EQ(s.stats().largest_free_span, s.impl().size());
}

// ---- growth ----------------------------------------------------------------

class SpaceModes : public ::testing::TestWithParam<protection_mode> {};

TEST_P(SpaceModes, AStackGrowsOnDemandAndIsReleasedWhenItEnds) {
  if (GetParam() == protection_mode::guard_install &&
      cospace::detail::probe_guard_mode() != protection_mode::guard_install)
    GTEST_SKIP() << "madvise(MADV_GUARD_INSTALL) does not guard here (Linux < 6.13, or qemu-user, "
                    "which accepts the advice and installs nothing)";
  space_options o = small(8 * GiB);
  o.force_mode = true;
  o.mode = GetParam();
  space s(o);
  EXPECT_EQ(s.stats().mode, GetParam());
  {
    region_fiber f(s.impl(), [](region_fiber& self) {
      recurse(8 * MiB);
      self.yield();
      recurse(32 * MiB);
    });
    f.resume();
    EXPECT_GT(s.stats().growth_events, 0u);
    const std::uint64_t growths = s.stats().growth_events;
    EXPECT_GE(f.region()->stack_depth(), 8 * MiB);
    f.resume();
    EXPECT_TRUE(f.done());
    EXPECT_GT(s.stats().growth_events, growths);
    expect_invariants(s);
  }
  EXPECT_GE(s.stats().bytes_released, 32 * MiB) << "a grown stack gives its pages back when it ends";
  EXPECT_EQ(s.stats().live_regions, 0u);
  expect_invariants(s);
}

// The lock is taken with the guard zone less than the critical sections'
// 16 KiB below the caller: the warm paths must still prefault (the fault
// handler cannot grow a stack while its own thread holds the lock), so the
// stack grows before the lock, and both calls succeed.
TEST_P(SpaceModes, AcquireAndReleaseFromJustAboveTheGuardZoneGrowTheStackFirst) {
  if (GetParam() == protection_mode::guard_install &&
      cospace::detail::probe_guard_mode() != protection_mode::guard_install)
    GTEST_SKIP() << "madvise(MADV_GUARD_INSTALL) does not guard here";
  space_options o = small(8 * GiB);
  o.force_mode = true;
  o.mode = GetParam();
  space s(o);
  region_fiber warm(s.impl(), [](region_fiber&) {});  // parks a region: the warm path
  warm.resume();
  std::uint32_t before_acquire = 0, after_acquire = 0, before_release = 0, after_release = 0;
  region_fiber f(s.impl(), [&](region_fiber& self) {
    region& r = *self.region();
    auto acquire_release = [&] {
      before_acquire = r.growths;
      region* other = s.impl().acquire_stack({});
      after_acquire = r.growths;
      near_guard(r, 8 * KiB, [&] {  // the acquire's prefault moved the zone: go down again
        before_release = r.growths;
        s.impl().release_stack(other);
        after_release = r.growths;
      });
    };
    near_guard(r, 8 * KiB, acquire_release);
  });
  f.resume();
  EXPECT_TRUE(f.done());
  EXPECT_GT(after_acquire, before_acquire) << "acquire_stack did not prefault near the guard zone";
  EXPECT_GT(after_release, before_release) << "release_stack did not prefault near the guard zone";
  expect_invariants(s);
}

INSTANTIATE_TEST_SUITE_P(AllModes, SpaceModes,
                         ::testing::Values(protection_mode::guard_install, protection_mode::mprotect,
                                           protection_mode::commit_on_use),
                         [](const auto& param_info) {
                           std::string name = cospace::to_string(param_info.param);
                           for (char& c : name) if (c == '-') c = '_';
                           return name;
                         });

TEST(SpaceGrowth, ManySuspendedFibersAtDifferentDepths) {
  space s(small(8 * GiB));
  std::vector<std::unique_ptr<region_fiber>> fibers;
  for (int i = 0; i < 200; ++i) {
    const std::size_t depth = (static_cast<std::size_t>(i) % 7) * 100 * KiB + 1 * KiB;
    fibers.push_back(std::make_unique<region_fiber>(s.impl(), [depth](region_fiber& self) {
      struct at_depth {
        static void go(std::size_t left, region_fiber& f) {
          volatile char frame[2048];
          frame[0] = static_cast<char>(left);
          if (left > sizeof frame) go(left - sizeof frame, f);
          else f.yield();
          frame[1] = frame[0];
        }
      };
      at_depth::go(depth, self);
    }));
    fibers.back()->resume();
  }
  expect_invariants(s);
  for (auto& f : fibers) {
    f->resume();
    EXPECT_TRUE(f->done());
  }
  fibers.clear();
  s.trim();
  expect_invariants(s);
  EXPECT_EQ(s.stats().largest_free_span, s.impl().size());
}

TEST(SpaceGrowth, TrimStackGivesBackPagesBelowTheCurrentDepth) {
  space s(small(8 * GiB));
  region_fiber f(s.impl(), [&s](region_fiber& self) {
    recurse(16 * MiB);
    const std::size_t before = self.region()->stack_depth();
    EXPECT_GE(before, 16 * MiB);
    const std::uint64_t released = s.stats().bytes_released;
    s.impl().trim_stack(self.region(), reinterpret_cast<std::uintptr_t>(cospace_context_stack_pointer()));
    EXPECT_LT(self.region()->stack_depth(), 1 * MiB);
    EXPECT_GE(s.stats().bytes_released - released, 15 * MiB);
    recurse(4 * MiB);  // and it grows again afterwards
  });
  f.resume();
  EXPECT_TRUE(f.done());
  expect_invariants(s);
}

// ---- warm path ---------------------------------------------------------------

TEST(SpaceRelease, EndedStacksAreParkedAndReusedWithoutSystemCalls) {
  space s(small());
  region* a = s.impl().acquire_stack({});
  const std::uintptr_t top = a->hi;
  s.impl().release_stack(a);
  EXPECT_EQ(s.stats().parked_regions, 1u);
  // Any system call now would fail: the warm path must not make one.
  cospace::detail::os_calls refusing = cospace::detail::os();
  refusing.madvise = [](void*, std::size_t, int) { errno = ENOMEM; return -1; };
  refusing.mprotect = [](void*, std::size_t, int) { errno = ENOMEM; return -1; };
  refusing.mmap = [](void*, std::size_t, int, int, int, long) { errno = ENOMEM; return MAP_FAILED; };
  const auto previous = cospace::detail::replace_os_calls(refusing);
  region* b = s.impl().acquire_stack({});
  s.impl().release_stack(b);
  cospace::detail::replace_os_calls(previous);
  EXPECT_EQ(b->hi, top);
  s.trim();
  EXPECT_EQ(s.stats().parked_regions, 0u);
  EXPECT_EQ(s.stats().largest_free_span, s.impl().size());
}

// ---- arenas --------------------------------------------------------------------

TEST(SpaceArena, AllocatesInTheLowerPartOfTheFibersRegionAndNeverOverlapsAStack) {
  space s(small(8 * GiB));
  {
  region_fiber f(s.impl(), [&s](region_fiber& self) {
    cospace::detail::arena_resource arena(self.region());
    std::pmr::vector<int> numbers(&arena);
    for (int i = 0; i < 100000; ++i) numbers.push_back(i);
    region* a = self.region()->arena;
    ASSERT_NE(a, nullptr);
    const auto address = reinterpret_cast<std::uintptr_t>(numbers.data());
    EXPECT_GE(address, a->lo);
    EXPECT_LT(address, a->hi);
    EXPECT_LE(a->hi, self.region()->lo) << "the arena lies below its fiber's region";
    std::pmr::string text("a string long enough to need the heap, of course", &arena);
    EXPECT_GT(arena.arena_bytes(), 400000u);
    EXPECT_EQ(s.impl().check_invariants(), "");
    recurse(2 * MiB);  // the stack still grows
    EXPECT_EQ(numbers[99999], 99999);
  });
  f.resume();
  EXPECT_TRUE(f.done());
  }
  EXPECT_EQ(s.stats().live_regions, 0u) << "the arena ends with its fiber";
  s.trim();
  EXPECT_EQ(s.stats().largest_free_span, s.impl().size());
}

TEST(SpaceArena, FallsBackUpstreamWhenTheArenaIsFull) {
  space s(small(8 * GiB));
  region_fiber f(s.impl(), [](region_fiber& self) {
    cospace::detail::arena_resource arena(self.region());
    const std::size_t room = self.region()->free_bytes();
    void* big = arena.allocate(room + MiB, 16);  // larger than any arena here
    EXPECT_NE(big, nullptr);
    EXPECT_EQ(arena.upstream_bytes(), room + MiB);
    arena.deallocate(big, room + MiB, 16);
    EXPECT_EQ(arena.upstream_bytes(), 0u);
    void* kept = arena.allocate(3 * MiB + room, 64);  // freed by the resource itself
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(kept) % 64, 0u);
  });
  f.resume();
  EXPECT_TRUE(f.done());
}

// ---- refused system calls ---------------------------------------------------------

struct refused_calls {
  cospace::detail::os_calls previous;
  explicit refused_calls(cospace::detail::os_calls calls) : previous(cospace::detail::replace_os_calls(calls)) {}
  ~refused_calls() { cospace::detail::replace_os_calls(previous); }
};

// Under valgrind a growth fault taken by a call or push returns with rsp
// already moved (see fault_handler.hpp); the handler moves it back, and only then.
TEST(SpaceFaults, ACallOrPushThatFaultedAtTheStackPointerGetsItsEightBytesBack) {
  using cospace::detail::valgrind_push_correction;
  const std::uintptr_t sp = 0x7000'0000'1000;
  struct instruction {
    const char* name;
    std::vector<unsigned char> bytes;
    std::size_t correction;
  };
  const instruction instructions[] = {
      {"call rel32", {0xE8, 0x10, 0x00, 0x00, 0x00}, 8},
      {"push %rbp", {0x55}, 8},
      {"push %r12", {0x41, 0x54}, 8},
      {"push $1", {0x6A, 0x01}, 8},
      {"push $0x12345678", {0x68, 0x78, 0x56, 0x34, 0x12}, 8},
      {"pushfq", {0x9C}, 8},
      {"notrack call *%rax", {0x3E, 0xFF, 0xD0}, 8},
      {"bnd call rel32", {0xF2, 0xE8, 0x10, 0x00, 0x00, 0x00}, 8},
      {"push (%rax)", {0xFF, 0x30}, 8},
      {"movb $1,(%rsp)", {0xC6, 0x04, 0x24, 0x01}, 0},
      {"mov %rax,(%rsp)", {0x48, 0x89, 0x04, 0x24}, 0},
      {"jmp *%rax", {0xFF, 0xE0}, 0},
      {"incl (%rax)", {0xFF, 0x00}, 0},
  };
  for (const instruction& i : instructions) {
    EXPECT_EQ(valgrind_push_correction(i.bytes.data(), sp, sp), i.correction) << i.name;
    // As on hardware: the store faulted 8 bytes below an rsp that did not move.
    EXPECT_EQ(valgrind_push_correction(i.bytes.data(), sp, sp - 8), 0u) << i.name;
  }
}

TEST(SpaceFaults, RefusedMmapIsAClearErrorAtConstruction) {
  cospace::detail::os_calls calls = cospace::detail::os();
  calls.mmap = [](void*, std::size_t, int, int, int, long) { errno = ENOMEM; return MAP_FAILED; };
  refused_calls guard(calls);
  try {
    space s(small());
    ADD_FAILURE() << "a space was made without its reservation";
  } catch (const space_error& e) {
    EXPECT_EQ(e.why(), space_error::reason::reservation_refused);
    EXPECT_NE(std::string(e.what()).find("mmap"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Cannot allocate memory"), std::string::npos) << e.what();
  }
}

TEST(SpaceFaults, RefusedMadviseOrMprotectIsAClearErrorAndLeavesTheSpaceIntact) {
  for (protection_mode mode : {protection_mode::guard_install, protection_mode::mprotect,
                               protection_mode::commit_on_use}) {
    space_options o = small();
    o.force_mode = true;
    o.mode = mode;
    o.parked_regions = 0;
    space s(o);
    region* before = s.impl().acquire_stack({});
    {
      cospace::detail::os_calls calls = cospace::detail::os();
      calls.madvise = [](void*, std::size_t, int) { errno = ENOMEM; return -1; };
      calls.mprotect = [](void*, std::size_t, int) { errno = EACCES; return -1; };
      refused_calls guard(calls);
      try {
        s.impl().acquire_stack({});
        ADD_FAILURE() << "a stack was made without its guard, mode " << cospace::to_string(mode);
      } catch (const space_error& e) {
        EXPECT_EQ(e.why(), space_error::reason::system_call_failed);
        EXPECT_NE(std::string(e.what()).find("failed"), std::string::npos) << e.what();
      }
    }
    expect_invariants(s);
    EXPECT_EQ(s.stats().live_regions, 1u);
    region* after = s.impl().acquire_stack({});  // works again once the calls do
    s.impl().release_stack(after);
    s.impl().release_stack(before);
    EXPECT_EQ(s.stats().largest_free_span, s.impl().size());
  }
}

}  // namespace
