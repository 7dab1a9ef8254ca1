// The slicing core's storage (src/slice/slice.hpp) on its own, without any
// context switch: slices on a stack that is a plain buffer, their saved
// bytes split between the inline area after each slice and its heap block,
// and the size hints that choose inline areas. The fiber and primitives
// tests cover the same code through real switches; this one reaches the
// corners (nested bases, partial saves, inline areas of every size, blocks
// that grow and shrink) in thousands of steps.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <vector>

#include "slice/slice.hpp"

namespace {

using cospace::detail::check_slices;
using cospace::detail::drop_slice;
using cospace::detail::inline_plan;
using cospace::detail::make_resident;
using cospace::detail::plan_inline;
using cospace::detail::shared_stack;
using cospace::detail::slice;
using cospace::detail::slice_heap_bytes;
using cospace::detail::slice_stopped_at;
using cospace::detail::live_below_handle;

// A slice with its inline area, as the fiber records and cospace_slice lay them out.
struct slice_block {
  explicit slice_block(inline_plan plan) : memory(new unsigned char[sizeof(slice) + plan.bytes()]) {
    s = ::new (memory.get()) slice();
    adopt(*s, plan);
  }
  ~slice_block() { drop_slice(*s); }
  slice_block(const slice_block&) = delete;
  slice_block& operator=(const slice_block&) = delete;

  std::unique_ptr<unsigned char[]> memory;
  slice* s = nullptr;
  std::vector<unsigned char> expected;  // what [low, base) must hold when it runs
};

constexpr std::size_t stack_size = 64 * 1024;

// Stands for code running on the stack: `b` owns everything below its
// base, and now stops at a new depth with new bytes in its live part.
void run_and_stop(slice_block& b, std::uintptr_t new_low, std::mt19937& rng) {
  b.s->set_low(new_low);
  b.expected.resize(b.s->base - new_low);
  for (unsigned char& c : b.expected) c = static_cast<unsigned char>(rng());
  if (!b.expected.empty()) std::memcpy(reinterpret_cast<void*>(new_low), b.expected.data(), b.expected.size());
}

// True when [low, base) holds what `b` expects (nothing to compare: true).
bool intact(const slice_block& b) {
  return b.expected.empty() ||
         std::memcmp(reinterpret_cast<const void*>(b.s->low()), b.expected.data(), b.expected.size()) == 0;
}

TEST(SliceStorage, SavedBytesSplitBetweenInlineAreaAndBlockComeBackExactly) {
  std::mt19937 rng(7);
  std::vector<unsigned char> memory(stack_size + 64);
  const auto bottom = (reinterpret_cast<std::uintptr_t>(memory.data()) + 15) & ~std::uintptr_t{15};
  shared_stack stack{bottom + stack_size, bottom, nullptr, nullptr};

  // Inline areas from none to more than most slices need; bases nested
  // (greenlet-style) so that partial saves happen too.
  std::vector<std::unique_ptr<slice_block>> blocks;
  for (int i = 0; i < 24; ++i) {
    inline_plan plan;
    plan.units = static_cast<std::uint8_t>(rng() % 4 == 0 ? 0 : rng() % 256);
    auto b = std::make_unique<slice_block>(plan);
    b->s->stack = &stack;
    b->s->base = stack.top - 16 * (rng() % 4 == 0 ? rng() % 512 : 0);
    b->s->set_low(b->s->base);
    blocks.push_back(std::move(b));
  }
  for (int step = 0; step < 20000; ++step) {
    slice_block& b = *blocks[rng() % blocks.size()];
    make_resident(*b.s);
    ASSERT_EQ(check_slices(stack), nullptr) << "step " << step;
    ASSERT_EQ(b.s->saved_size, 0u);
    ASSERT_TRUE(intact(b)) << "step " << step << ": a slice of " << b.expected.size() << " bytes with " << b.s->inline_bytes()
        << " inline came back changed";
    // Mostly shallow, sometimes deep (past any inline area, so blocks grow
    // and later shrink).
    const std::size_t depth = rng() % 8 == 0 ? rng() % 40000 : rng() % 1500;
    run_and_stop(b, (b.s->base - depth) & ~std::uintptr_t{15}, rng);
    EXPECT_LE(b.s->saved_size, slice_heap_bytes(*b.s));
  }
}

TEST(SliceStorage, ASliceWhoseBytesFitInlineNeedsNoBlock) {
  std::mt19937 rng(11);
  std::vector<unsigned char> memory(stack_size + 64);
  const auto bottom = (reinterpret_cast<std::uintptr_t>(memory.data()) + 15) & ~std::uintptr_t{15};
  shared_stack stack{bottom + stack_size, bottom, nullptr, nullptr};
  inline_plan plan;
  plan.units = 20;  // 320 bytes
  slice_block a(plan), b(plan);
  for (slice_block* x : {&a, &b}) {
    x->s->stack = &stack;
    x->s->base = stack.top;
    x->s->set_low(stack.top);
  }
  make_resident(*a.s);
  run_and_stop(a, stack.top - 320, rng);
  make_resident(*b.s);  // saves a: exactly its inline area
  EXPECT_EQ(a.s->saved_size, 320u);
  EXPECT_EQ(a.s->saved, nullptr) << "320 bytes fit in a 320-byte inline area";
  run_and_stop(b, stack.top - 336, rng);
  make_resident(*a.s);  // saves b: 16 bytes more than inline
  EXPECT_NE(b.s->saved, nullptr);
  EXPECT_TRUE(intact(a));
  make_resident(*b.s);
  EXPECT_TRUE(intact(b));
}

// Keys stand for kinds of owner (a fiber's body type, a C slice's function).
TEST(SliceStorage, TheInlineAreaFollowsWhatTheLastSliceOfTheSameKindSaved) {
  alignas(16) static const char kinds[2][16] = {};
  const void* key = &kinds[0];
  const inline_plan first = plan_inline(key);
  EXPECT_EQ(first.units, 0) << "no guess for a kind not seen yet";
  ASSERT_NE(first.slot, 0) << "the slot is free in a fresh test process";

  std::mt19937 rng(3);
  std::vector<unsigned char> memory(stack_size + 64);
  const auto bottom = (reinterpret_cast<std::uintptr_t>(memory.data()) + 15) & ~std::uintptr_t{15};
  shared_stack stack{bottom + stack_size, bottom, nullptr, nullptr};
  slice_block a(first), other(inline_plan{});
  for (slice_block* x : {&a, &other}) {
    x->s->stack = &stack;
    x->s->base = stack.top;
    x->s->set_low(stack.top);
  }
  make_resident(*a.s);
  run_and_stop(a, stack.top - 400, rng);
  make_resident(*other.s);  // saves a's 400 bytes, which sets the hint
  EXPECT_EQ(plan_inline(key).units, 25) << "400 bytes: 25 units of 16";
  EXPECT_EQ(plan_inline(key).slot, first.slot);
  EXPECT_EQ(plan_inline(&kinds[1]).units, 0) << "another kind has its own hint";
}

// Where a slice stops is kept as a 32-bit depth below its base (so that the
// record has room for its owner's count): it must round-trip across the
// whole range, above the base too (an attached slice stopped in a shallower
// frame than the base it was given), and a slice deeper than that range is
// refused, never truncated.
TEST(SliceStorage, WhereASliceStopsRoundTripsWithinTwoGiBOfItsBase) {
  slice s;
  s.base = std::uintptr_t{0x7f00'0000'0000};
  const std::uintptr_t two_gib = std::uintptr_t{1} << 31;
  for (const std::uintptr_t low : {s.base, s.base - 16, s.base - two_gib + 16, s.base + 4096, s.base + two_gib - 16}) {
    slice_stopped_at(s, reinterpret_cast<const void*>(low + live_below_handle()));
    EXPECT_EQ(s.low(), low) << "base - low = " << static_cast<std::intptr_t>(s.base - low);
  }
}

TEST(SliceStorageDeathTest, ASliceOverTwoGiBDeepIsRefused) {
  slice s;
  s.base = std::uintptr_t{0x7f00'0000'0000};
  const std::uintptr_t low = s.base - (std::uintptr_t{1} << 31) - 16;
  EXPECT_DEATH(slice_stopped_at(s, reinterpret_cast<const void*>(low + live_below_handle())),
               "slices are limited to 2 GiB");
}

}  // namespace
