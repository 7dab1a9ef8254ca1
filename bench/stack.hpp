// A stack for a benchmark context: an anonymous private mapping, unmapped on
// destruction. The benchmarks only ever leave contexts suspended, never
// finished, and nothing on their stacks needs destroying, so dropping the
// mapping is all the cleanup there is.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <stdexcept>

namespace cospace::bench {

class mapped_stack {
 public:
  explicit mapped_stack(std::size_t size = 256 * 1024) : size_(size) {
    base_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base_ == MAP_FAILED) throw std::runtime_error("mmap of a benchmark stack failed");
  }
  mapped_stack(const mapped_stack&) = delete;
  mapped_stack& operator=(const mapped_stack&) = delete;
  ~mapped_stack() { munmap(base_, size_); }

  void* top() const noexcept { return static_cast<std::byte*>(base_) + size_; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_;
  void* base_;
};

}  // namespace cospace::bench
