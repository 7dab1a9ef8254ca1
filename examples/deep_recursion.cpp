// A recursive-descent parser on input nested a million levels deep. The
// grammar is the natural one, so the parser recurses once per level: about
// 100 MiB of stack here. A fixed fiber stack would have to be sized for that
// in advance (and every other fiber would pay for it); a 64 KiB stack
// overflows after a few hundred levels. On a cospace region fiber the stack
// simply grows as the parser descends, and the fiber can suspend at any depth.
//
//   value := number | '[' value (',' value)* ']'
#include <cospace/fiber.hpp>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace {

class parser {
 public:
  explicit parser(const std::string& text) : text_(text) {}

  // Returns the sum of the numbers in the value; tracks the deepest nesting.
  std::int64_t value(std::size_t depth) {
    if (depth > deepest_) {
      deepest_ = depth;
      lowest_frame_ = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
      if (depth % 250'000 == 0) cospace::this_fiber::yield();  // report progress, at depth
    }
    if (peek() != '[') return number();
    ++at_;
    std::int64_t sum = value(depth + 1);
    while (peek() == ',') {
      ++at_;
      sum += value(depth + 1);
    }
    expect(']');
    return sum;
  }

  void end() const {
    if (at_ != text_.size()) fail("trailing input");
  }
  std::size_t deepest() const { return deepest_; }
  // Bytes of stack between the outermost call and the deepest frame so far.
  std::size_t stack_used(std::uintptr_t outer_frame) const { return outer_frame - lowest_frame_; }
  std::size_t position() const { return at_; }

 private:
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++at_;
  }
  std::int64_t number() {
    if (peek() < '0' || peek() > '9') fail("expected a number or '['");
    std::int64_t n = 0;
    while (peek() >= '0' && peek() <= '9') n = n * 10 + (text_[at_++] - '0');
    return n;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(what + " at offset " + std::to_string(at_));
  }

  const std::string& text_;
  std::size_t at_ = 0;
  std::size_t deepest_ = 0;
  std::uintptr_t lowest_frame_ = 0;
};

}  // namespace

int main() {
  constexpr std::size_t levels = 1'000'000;
  const std::string text = std::string(levels, '[') + "7,[35]" + std::string(levels, ']');

  std::int64_t sum = 0;
  std::size_t deepest = 0;
  std::uintptr_t outer_frame = 0;
  parser p(text);
  cospace::fiber parse([&] {
    outer_frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    sum = p.value(0);
    p.end();
    deepest = p.deepest();
  }, {.name = "parser"});

  while (!parse.done()) {
    parse.resume();  // runs until the parser reports progress, or ends
    if (!parse.done()) {
      std::printf("suspended at depth %zu, %zu MiB of stack in use\n", p.deepest(), p.stack_used(outer_frame) >> 20);
    }
  }
  const std::size_t stack_used = p.stack_used(outer_frame);
  std::printf("parsed %zu bytes: nesting depth %zu, sum %lld\n", text.size(), deepest,
              static_cast<long long>(sum));
  const double per_level = static_cast<double>(stack_used) / static_cast<double>(deepest);
  std::printf("the stack grew to %zu MiB (%.0f bytes a level); a 64 KiB stack holds %.0f levels\n",
              stack_used >> 20, per_level, 65536 / per_level);
}
