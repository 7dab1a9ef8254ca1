#include <cospace/generator.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using cospace::generator;

class Generator : public ::testing::TestWithParam<cospace::stack_kind> {
 protected:
  cospace::fiber_options options() const { return {.stack = GetParam(), .name = "gen"}; }
};

TEST_P(Generator, YieldsValuesToARangeFor) {
  generator<int> g([](auto& out) {
    for (int i = 1; i <= 5; ++i) out.yield(i);
  }, options());
  std::vector<int> seen;
  for (int v : g) seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST_P(Generator, HandsOutValuesByMoveNotByPointerIntoItsStack) {
  generator<std::string> g([](auto& out) {
    std::string local = "a string that lives on the fiber's stack, long enough for the heap";
    out.yield(local);  // copied
    out.yield(std::string("moved"));
    local[0] = 'X';  // changing the fiber's copy after the yield
    EXPECT_EQ(local[0], 'X');
  }, options());
  std::vector<std::string> seen;
  for (std::string& v : g) seen.push_back(std::move(v));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0][0], 'a') << "the consumer holds its own copy";
  EXPECT_EQ(seen[1], "moved");
}

TEST_P(Generator, MoveOnlyValues) {
  generator<std::unique_ptr<int>> g([](auto& out) {
    out.yield(std::make_unique<int>(7));
    out.yield(std::make_unique<int>(8));
  }, options());
  int sum = 0;
  for (auto& p : g) sum += *p;
  EXPECT_EQ(sum, 15);
}

TEST_P(Generator, ExceptionsFromTheBodyReachTheConsumer) {
  generator<int> g([](auto& out) {
    out.yield(1);
    throw std::runtime_error("generator failed");
  }, options());
  auto it = g.begin();
  EXPECT_EQ(*it, 1);
  EXPECT_THROW(++it, std::runtime_error);
}

TEST_P(Generator, AnUnfinishedGeneratorIsUnwound) {
  int destroyed = 0;
  struct guard {
    int* n;
    ~guard() { ++*n; }
  };
  {
    generator<int> g([&](auto& out) {
      guard keep{&destroyed};
      for (int i = 0;; ++i) out.yield(i);
    }, options());
    auto it = g.begin();
    ++it;
    EXPECT_EQ(*it, 1);
  }
  EXPECT_EQ(destroyed, 1);
}

TEST_P(Generator, EmptyAndMovedGenerators) {
  generator<int> empty([](auto&) {}, options());
  EXPECT_TRUE(empty.begin() == empty.end());
  generator<int> g([](auto& out) { out.yield(3); }, options());
  generator<int> moved = std::move(g);
  int total = 0;
  for (int v : moved) total += v;
  EXPECT_EQ(total, 3);
}

INSTANTIATE_TEST_SUITE_P(Kinds, Generator,
                         ::testing::Values(cospace::stack_kind::region, cospace::stack_kind::fixed),
                         [](const auto& param_info) { return std::string(cospace::to_string(param_info.param)); });

}  // namespace
