// Fixed-size stacks, for comparison with region stacks: each is a mapping
// with one PROT_NONE guard page below it (two VMAs each), kept in a small
// pool per size so that creating a fiber does not map every time.
//
// For debuggers, every mapping the pool holds (lent out or free) is on one
// list, kept in a small header at the very top of the mapping, above the
// stack; tools/gdb/cospace.py walks it from `cospace_debug_fixed_stacks` and
// finds each lent stack's fiber record just below the header. The list
// changes only when a mapping is made or unmapped, and the header's `pooled`
// flag as a stack goes in or out of the pool, under the lock already taken:
// lending a pooled stack costs one store to a line its record is about to
// be written to anyway.
//
//   mapping end -> +------------------+
//                  | fixed_header     |
//   stack top   -> +------------------+
//                  | the fiber's record, then its frames
//                  v                  v
//   bottom      -> +------------------+
//                  | guard page       |
//   mapping     -> +------------------+
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

struct fixed_header {
  fixed_header* prev = nullptr;  // every mapping of the pool, newest first
  fixed_header* next = nullptr;
  std::size_t mapping_size = 0;  // guard page included
  bool pooled = false;           // in the pool (free), not lent to a fiber
};
// The stack top stays 16-byte aligned below the header.
static_assert(sizeof(fixed_header) % 16 == 0);

}  // namespace cospace::detail

// For debuggers (tools/gdb/cospace.py): the newest mapping of the fixed pool.
extern "C" {
COSPACE_API cospace::detail::fixed_header* cospace_debug_fixed_stacks = nullptr;
}

namespace cospace::detail {
namespace {

constexpr std::size_t pooled_per_size = 64;

struct fixed_pool {
  std::mutex lock;
  std::unordered_map<std::size_t, std::vector<fixed_header*>> free;
};

fixed_pool& pool() {
  static fixed_pool* const instance = new fixed_pool;  // outlives every fiber
  return *instance;
}

fixed_header* header_of(const fiber_stack& stack) noexcept { return reinterpret_cast<fixed_header*>(stack.top); }

// Maps a new stack and puts it on the debuggers' list.
fixed_header* map_stack(std::size_t mapping_size) {
  const std::size_t page = page_size();
  void* const mapping = os().mmap(nullptr, mapping_size, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mapping == MAP_FAILED) {
    throw space_error(space_error::reason::system_call_failed,
                      "cannot map a fixed fiber stack: " + describe_failure("mmap", nullptr, mapping_size, errno));
  }
  if (os().mprotect(mapping, page, PROT_NONE) != 0) {
    const int error = errno;
    os().munmap(mapping, mapping_size);
    throw space_error(space_error::reason::system_call_failed,
                      "cannot guard a fixed fiber stack: " + describe_failure("mprotect", mapping, page, error));
  }
  auto* const h = ::new (static_cast<char*>(mapping) + mapping_size - sizeof(fixed_header)) fixed_header();
  h->mapping_size = mapping_size;
  std::lock_guard guard(pool().lock);
  h->next = cospace_debug_fixed_stacks;
  if (h->next != nullptr) h->next->prev = h;
  cospace_debug_fixed_stacks = h;
  return h;
}

// Takes a mapping off the debuggers' list (lock held); the caller unmaps it.
void unlink(fixed_header* h) noexcept {
  if (h->prev != nullptr) h->prev->next = h->next;
  else cospace_debug_fixed_stacks = h->next;
  if (h->next != nullptr) h->next->prev = h->prev;
}

}  // namespace

fiber_stack acquire_fixed_stack(std::size_t size) {
  const std::size_t page = page_size();
  if (size < 4 * page) {
    throw fiber_error("fiber_options::fixed_size must be at least " + std::to_string(4 * page) +
                      " bytes");
  }
  const std::size_t mapping_size = (size + page - 1) / page * page + page;
  fixed_header* h = nullptr;
  {
    std::lock_guard guard(pool().lock);
    auto& list = pool().free[mapping_size];
    if (!list.empty()) {
      h = list.back();
      list.pop_back();
      h->pooled = false;
    }
  }
  if (h == nullptr) h = map_stack(mapping_size);
  const auto end = reinterpret_cast<std::uintptr_t>(h) + sizeof(fixed_header);
  fiber_stack s;
  s.kind = stack_kind::fixed;
  s.bottom = end - mapping_size + page;
  s.top = reinterpret_cast<std::uintptr_t>(h);
  return s;
}

void release_fixed_stack(fiber_stack& stack) noexcept {
  forget_stack_poison(stack.bottom, stack.top);
  fixed_header* const h = header_of(stack);
  const std::size_t mapping_size = h->mapping_size;
  {
    std::lock_guard guard(pool().lock);
    auto& list = pool().free[mapping_size];
    if (list.size() < pooled_per_size) {
      list.push_back(h);
      h->pooled = true;
      return;
    }
    unlink(h);
  }
  // The mapping is the stack plus its guard page below (see the picture above).
  os().munmap(reinterpret_cast<void*>(stack.bottom - page_size()), mapping_size);
}

}  // namespace cospace::detail
