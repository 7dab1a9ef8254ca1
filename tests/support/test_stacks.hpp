// Stacks for tests of the context layer: carved downward from one mapping, so
// that each stack handed out lies below the ones before it (the sjlj backend
// needs a fresh stack below whoever first enters it), with an inaccessible
// page below each so that an overrun faults instead of corrupting the next.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace cospace::test {

class test_stacks {
 public:
  explicit test_stacks(std::size_t stack_size = 256 * 1024, std::size_t count = 64)
      : page_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))),
        stride_(round_up(stack_size, page_) + page_),
        bytes_(stride_ * count) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("test_stacks: mmap failed");
    base_ = static_cast<std::byte*>(p);
    next_top_ = base_ + bytes_;
  }
  test_stacks(const test_stacks&) = delete;
  test_stacks& operator=(const test_stacks&) = delete;
  ~test_stacks() { munmap(base_, bytes_); }

  // The top of a fresh stack of stack_size bytes, below every earlier one.
  void* next() {
    if (next_top_ - stride_ < base_) throw std::runtime_error("test_stacks: out of stacks");
    std::byte* top = next_top_;
    next_top_ -= stride_;
    mprotect(next_top_, page_, PROT_NONE);  // the guard page below this stack
    return top;
  }
  std::size_t stack_size() const { return stride_ - page_; }

 private:
  static std::size_t round_up(std::size_t n, std::size_t unit) { return (n + unit - 1) / unit * unit; }

  std::size_t page_, stride_, bytes_;
  std::byte* base_ = nullptr;
  std::byte* next_top_ = nullptr;
};

}  // namespace cospace::test
