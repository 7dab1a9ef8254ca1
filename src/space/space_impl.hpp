// The space's allocator: placement, growth, release and parking of regions in
// one reservation. Internal; the fiber layer is its client.
//
// Locking: one spin_lock guards the region list, the free-part heap, the
// parked list and the counters. System calls are made outside it wherever the
// range they touch cannot be handed to anyone else meanwhile: a region is
// prepared after it is carved (nobody else owns that range) and cleaned
// before it is merged back (after the merge someone else may own it).
#pragma once

#include <cospace/space.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "free_heap.hpp"
#include "region.hpp"
#include "spin_lock.hpp"

namespace cospace::detail {

struct stack_request {
  std::size_t max_stack = 0;          // 0: the space's default
  const char* name = nullptr;         // diagnostics; must outlive the region
  std::uint64_t id = 0;               // diagnostics; 0: the space numbers it
  region* parent = nullptr;           // nested placement carves from here
  bool nested = false;                // nested placement even if the space is balanced
};

enum class fault_result { not_ours, grew };

class space_impl {
 public:
  explicit space_impl(const space_options& options);
  space_impl(const space_impl&) = delete;
  space_impl& operator=(const space_impl&) = delete;
  ~space_impl();

  // A stack region; throws space_error (exhausted, system_call_failed).
  region* acquire_stack(const stack_request& request);
  // Ends a stack region (and its arena). Never throws; a system call that
  // fails here is reported on stderr and the range is left out of use.
  void release_stack(region* r) noexcept;

  // The arena of stack region `owner`, carved from its free part on first
  // use; nullptr when the free part is too small.
  region* arena_of(region* owner);
  // Bumps n bytes aligned to `alignment` from an arena; nullptr when it is full.
  void* arena_allocate(region* arena, std::size_t n, std::size_t alignment) noexcept;

  // Called by the SIGSEGV handler for a fault at `address` while `current`
  // runs: grows it, or reports an overflow and aborts, or says not ours.
  fault_result handle_fault(region* current, std::uintptr_t address) noexcept;

  // Gives back the pages of a stack region below `stack_pointer` (less some
  // slack) and moves its guard zone up to match.
  void trim_stack(region* r, std::uintptr_t stack_pointer);

  space_stats stats() const;
  void trim();

  bool contains(std::uintptr_t address) const noexcept {
    return address - base_ < size_;
  }
  std::uintptr_t base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  const space_options& options() const noexcept { return options_; }
  protection_mode mode() const noexcept { return mode_; }

  // For tests: every region in address order, under the lock.
  template <class F>
  void for_each_region(F&& f) const {
    lock_.lock();
    for (const region* r = lowest_; r != nullptr; r = r->above) f(*r);
    lock_.unlock();
  }
  // For tests: an empty string if every invariant of the partition holds,
  // else a description of the first one broken.
  std::string check_invariants() const;

  // Links of the debuggers' list of live spaces (space_registry.hpp).
  space_impl* debug_next = nullptr;
  space_impl* debug_prev = nullptr;

 private:
  region* new_region();
  void free_region(region* r) noexcept;
  [[gnu::noinline]] region* acquire_stack_slow(const stack_request& request);  // carving, errors
  region* take_parked(std::size_t max_stack) noexcept;           // lock held; null if none
  void hand_out(region* r, const stack_request& request) noexcept;  // lock held: r is live now
  [[gnu::noinline]] void release_stack_slow(region* r) noexcept;  // arena, unparkable: syscalls
  bool park(region* r) noexcept;  // lock held: parks r (no longer live) if it may be parked
  region* carve_below(region* victim, std::size_t bytes);  // lock held
  void make_stack(region* r, std::size_t max_stack);       // lock held
  void retire(region* r) noexcept;                          // lock held: merge into the region above
  void release_arena(region* arena) noexcept;
  void release_now(region* r) noexcept;                     // syscalls, then retire
  [[noreturn]] void overflow(const region* r, std::uintptr_t address, const char* why) noexcept;

  // Stack-top colours: whole pages, then 64-byte lines below 2 KiB.
  static constexpr std::uint32_t colour_pages = 16;
  static constexpr std::uint32_t colour_lines = 32;

  space_options options_;
  protection_mode mode_;
  std::uintptr_t base_ = 0;
  std::size_t size_ = 0;
  std::size_t min_region_ = 0;
  std::size_t page_ = 0;  // page_size(), for the warm path

  mutable spin_lock lock_;
  std::deque<region> pool_;
  std::vector<region*> spare_;
  std::vector<region*> parked_;  // [0, parked_count_) are parked (sized once: no allocation)
  std::size_t parked_count_ = 0;
  free_heap heap_;
  region* lowest_ = nullptr;
  std::uint64_t next_id_ = 1;
  std::uint32_t colour_ = 0;
  std::size_t live_ = 0;
  std::size_t quarantined_ = 0;
  space_stats counters_;
};

// The global space's allocator, once space::global() has made it (null
// before). Making a fiber reads it here: one load instead of a call to
// space::global() and its function-local static's guard.
extern std::atomic<space_impl*> g_global_space;

inline space_impl& global_space() {
  space_impl* const s = g_global_space.load(std::memory_order_acquire);
  if (s != nullptr) [[likely]] return *s;
  return space::global().impl();
}

}  // namespace cospace::detail
