// Every callee-saved register survives a switch, in both directions: the
// assembly helpers (registers_<arch>.S) load known patterns into all of them,
// jump, and read them back, while the other side fills them with garbage.
#include <cospace/context.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "../support/test_stacks.hpp"

extern "C" {
extern const int cospace_test_callee_saved_count;
cospace_transfer cospace_test_jump_with_patterns(cospace_context to, void* data,
                                                 const std::uint64_t* patterns,
                                                 std::uint64_t* observed);
cospace_transfer cospace_test_jump_clobbering(cospace_context to, void* data);
}

namespace {

constexpr int max_registers = 64;

std::vector<std::uint64_t> patterns(std::uint64_t seed) {
  std::vector<std::uint64_t> p(max_registers);
  for (int i = 0; i < max_registers; ++i)
    p[i] = 0x0123456789abcdefULL * (seed + static_cast<std::uint64_t>(i) + 1) ^ (seed << 40);
  return p;
}

void expect_same(const std::vector<std::uint64_t>& expected, const std::vector<std::uint64_t>& seen) {
  for (int i = 0; i < cospace_test_callee_saved_count; ++i)
    EXPECT_EQ(seen[i], expected[i]) << "callee-saved register #" << i << " was not preserved";
}

// The child clobbers every callee-saved register before each jump back.
void clobbering_child(cospace_transfer t) {
  for (;;) t = cospace_test_jump_clobbering(t.from, t.data);
}

TEST(ContextRegisters, CalleeSavedSurviveAJumpIntoAFreshContextAndBack) {
  ASSERT_LE(cospace_test_callee_saved_count, max_registers);
  cospace::test::test_stacks stacks;
  cospace_context child = nullptr;
  ASSERT_EQ(cospace_context_create(stacks.next(), stacks.stack_size(), clobbering_child, &child), COSPACE_OK);
  for (std::uint64_t round = 0; round < 100; ++round) {
    const auto expected = patterns(round);
    std::vector<std::uint64_t> seen(max_registers, 0);
    cospace_transfer t = cospace_test_jump_with_patterns(child, nullptr, expected.data(), seen.data());
    child = t.from;
    expect_same(expected, seen);
  }
}

// The roles reversed: the child holds patterns across its suspension while
// the parent clobbers.
struct child_report {
  std::vector<std::uint64_t> expected, seen;
};

void patterned_child(cospace_transfer t) {
  for (std::uint64_t round = 0;; ++round) {
    std::vector<std::uint64_t> expected = patterns(1000 + round), seen(max_registers, 0);
    t = cospace_test_jump_with_patterns(t.from, nullptr, expected.data(), seen.data());
    // Resumed: publish what survived; the next jump hands it to the parent.
    auto* report = static_cast<child_report*>(t.data);
    report->expected = std::move(expected);
    report->seen = std::move(seen);
  }
}

TEST(ContextRegisters, CalleeSavedSurviveInASuspendedContext) {
  cospace::test::test_stacks stacks;
  cospace_context child = nullptr;
  ASSERT_EQ(cospace_context_create(stacks.next(), stacks.stack_size(), patterned_child, &child), COSPACE_OK);
  child_report report;
  cospace_transfer t = cospace_context_jump(child, &report);  // child suspends holding patterns
  for (int round = 0; round < 100; ++round) {
    // Resume it from a frame whose registers are garbage; by the time it is
    // back (suspended again, holding new patterns) it has reported what it saw.
    report.seen.clear();
    t = cospace_test_jump_clobbering(t.from, &report);
    ASSERT_EQ(report.seen.size(), static_cast<std::size_t>(max_registers));
    expect_same(report.expected, report.seen);
  }
}

}  // namespace
