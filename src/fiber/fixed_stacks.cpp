// Fixed-size stacks, for comparison with region stacks: each is a mapping
// with one PROT_NONE guard page below it (two VMAs each), kept in a small
// pool per size so that creating a fiber does not map every time.
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <cospace/space.hpp>

#include "fiber_stack.hpp"
#include "space/os.hpp"
#include "space/sanitizer.hpp"

namespace cospace::detail {
namespace {

constexpr std::size_t pooled_per_size = 64;

struct fixed_pool {
  std::mutex lock;
  std::unordered_map<std::size_t, std::vector<void*>> free;
};

fixed_pool& pool() {
  static fixed_pool* const instance = new fixed_pool;  // outlives every fiber
  return *instance;
}

}  // namespace

fiber_stack acquire_fixed_stack(std::size_t size) {
  const std::size_t page = page_size();
  if (size < 4 * page) {
    throw fiber_error("fiber_options::fixed_size must be at least " + std::to_string(4 * page) +
                      " bytes");
  }
  const std::size_t mapping_size = (size + page - 1) / page * page + page;
  void* mapping = nullptr;
  {
    std::lock_guard guard(pool().lock);
    auto& list = pool().free[mapping_size];
    if (!list.empty()) {
      mapping = list.back();
      list.pop_back();
    }
  }
  if (mapping == nullptr) {
    mapping = os().mmap(nullptr, mapping_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED) {
      throw space_error(space_error::reason::system_call_failed,
                        "cannot map a fixed fiber stack: " +
                            describe_failure("mmap", nullptr, mapping_size, errno));
    }
    if (os().mprotect(mapping, page, PROT_NONE) != 0) {
      const int error = errno;
      os().munmap(mapping, mapping_size);
      throw space_error(space_error::reason::system_call_failed,
                        "cannot guard a fixed fiber stack: " +
                            describe_failure("mprotect", mapping, page, error));
    }
  }
  fiber_stack s;
  s.kind = stack_kind::fixed;
  s.bottom = reinterpret_cast<std::uintptr_t>(mapping) + page;
  s.top = reinterpret_cast<std::uintptr_t>(mapping) + mapping_size;
  return s;
}

void release_fixed_stack(fiber_stack& stack) noexcept {
  forget_stack_poison(stack.bottom, stack.top);
  // The mapping is the stack plus its guard page below (see acquire).
  void* const mapping = reinterpret_cast<void*>(stack.bottom - page_size());
  const std::size_t mapping_size = stack.top - (stack.bottom - page_size());
  {
    std::lock_guard guard(pool().lock);
    auto& list = pool().free[mapping_size];
    if (list.size() < pooled_per_size) {
      list.push_back(mapping);
      return;
    }
  }
  os().munmap(mapping, mapping_size);
}

}  // namespace cospace::detail
