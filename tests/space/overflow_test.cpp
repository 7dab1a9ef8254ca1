// Overflow and foreign faults, each in a subprocess (gtest death tests).
#include <cospace/space.hpp>

#include <gtest/gtest.h>

#include "../support/no_core_dumps.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "../support/region_fiber.hpp"

namespace {

using cospace::space;
using cospace::space_options;
using cospace::detail::stack_request;
using cospace::test::recurse;
using cospace::test::region_fiber;

constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr std::size_t KiB = std::size_t{1} << 10;

class OverflowDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(OverflowDeathTest, BeyondTheFibersMaximumStackIsReportedAndAborts) {
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        space_options o;
        o.reservation = std::size_t{8} << 30;
        space s(o);
        region_fiber f(s.impl(), [](region_fiber&) { recurse(64 * MiB); },
                       stack_request{.max_stack = 4 * MiB, .name = "deep-diver"});
        f.resume();
      },
      "stack overflow in fiber 'deep-diver' \\(id [0-9]+\\): depth [0-9]+ (bytes|KiB) reached in region "
      "\\[0x[0-9a-f]+, 0x[0-9a-f]+\\), limit 4096 KiB: the fiber's maximum stack size is reached");
}

TEST_F(OverflowDeathTest, IntoANeighbourIsReportedAndAbortsWithoutTouchingIt) {
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        space_options o;
        o.reservation = 64 * MiB;
        space s(o);
        // The first fiber takes the top; the second the lower half of its free
        // part, so the first can grow to about 32 MiB and no further.
        region_fiber upper(s.impl(), [](region_fiber&) { recurse(48 * MiB); });
        region_fiber lower(s.impl(), [](region_fiber& self) {
          volatile char canary[64];
          std::memset(const_cast<char*>(canary), 0x5a, sizeof canary);
          self.yield();
        });
        lower.resume();
        upper.resume();
      },
      "stack overflow in fiber id [0-9]+: .*the space below it is taken by another region");
}

[[gnu::noinline]] int big_frame(int n) {
  // 32 KiB in one frame: its lowest byte is touched first, 32 KiB below the
  // caller; the default 64 KiB guard zone is deeper than that, so it faults
  // in the zone even without -fstack-clash-protection.
  volatile char frame[32 * 1024];
  frame[0] = static_cast<char>(n);
  frame[sizeof frame - 1] = static_cast<char>(n);
  return n == 0 ? frame[0] : big_frame(n - 1) + frame[sizeof frame - 1];
}

TEST_F(OverflowDeathTest, AThirtyTwoKiBFrameIsCaughtByTheDefaultZone) {
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        space s(space_options{.reservation = std::size_t{8} << 30});
        region_fiber f(s.impl(), [](region_fiber&) { big_frame(1000); },
                       stack_request{.max_stack = 1 * MiB, .name = "big-frames"});
        f.resume();
      },
      "stack overflow in fiber 'big-frames'");
}

TEST_F(OverflowDeathTest, DestroyingASpaceWithLiveFibersIsReportedAndAborts) {
  EXPECT_DEATH(
      {
        cospace::test::no_core_dumps();
        auto* s = new space(space_options{.reservation = std::size_t{1} << 30});
        (void)s->impl().acquire_stack({});
        delete s;
      },
      "a space was destroyed while 1 of its regions");
}

// ---- faults that are not ours ------------------------------------------------

void exit_from_handler(int, siginfo_t* info, void*) {
  static const char message[] = "user handler saw the fault\n";
  (void)write(STDERR_FILENO, message, sizeof message - 1);
  _exit(info->si_addr != nullptr ? 42 : 43);
}

TEST_F(OverflowDeathTest, ForeignFaultsReachThePreviousHandler) {
  EXPECT_EXIT(
      {
        cospace::test::no_core_dumps();
        struct sigaction action {};
        action.sa_sigaction = &exit_from_handler;
        action.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &action, nullptr);
        space s(space_options{.reservation = std::size_t{1} << 30});  // installs cospace's handler
        region_fiber f(s.impl(), [](region_fiber&) {
          // A fault inside a fiber but outside its stack is not ours.
          void* p = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          *static_cast<volatile int*>(p) = 1;
        });
        f.resume();
      },
      ::testing::ExitedWithCode(42), "user handler saw the fault");
}

TEST_F(OverflowDeathTest, ForeignFaultsGetTheDefaultActionWhenThereWasNoHandler) {
  EXPECT_EXIT(
      {
        cospace::test::no_core_dumps();
        signal(SIGSEGV, SIG_DFL);
        space s(space_options{.reservation = std::size_t{1} << 30});
        void* p = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *static_cast<volatile int*>(p) = 1;
      },
      ::testing::KilledBySignal(SIGSEGV), "");
}

TEST_F(OverflowDeathTest, TouchingAnotherFibersGuardFromOutsideIsNotGrowth) {
  EXPECT_EXIT(
      {
        cospace::test::no_core_dumps();
        signal(SIGSEGV, SIG_DFL);
        space s(space_options{.reservation = std::size_t{1} << 30});
        region_fiber f(s.impl(), [](region_fiber& self) { self.yield(); });
        f.resume();
        // The main thread (no fiber) touches the suspended fiber's guard zone.
        *reinterpret_cast<volatile char*>(f.region()->zone_hi - 1) = 1;
      },
      ::testing::KilledBySignal(SIGSEGV), "");
}

}  // namespace
