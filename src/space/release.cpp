// Release: what happens to a region when its fiber ends.
//
// A stack whose guard zone never moved is parked (kept with its zone and its
// resident top pages, up to space_options::parked_regions of them) so that
// the next fiber reuses it without a system call. Otherwise, or when the
// parked list is full, its pages go back to the kernel and its range joins
// the free part of the region above it:
//
//   | below | ended region      | above: free | zone | stack |
//   | below | above: free (now larger)        | zone | stack |
//
// At the top of the reservation there is no region above: the range becomes
// (or extends) the open span. Cleaning happens before the merge, because once
// merged the range may be carved for someone else at any moment.
#include <algorithm>
#include <cstdio>

#include "os.hpp"
#include "prefault.hpp"
#include "protection.hpp"
#include "sanitizer.hpp"
#include "space_impl.hpp"

namespace cospace::detail {

void space_impl::retire(region* r) noexcept {
  region* above = r->above;
  region* below = r->below;
  if (above == nullptr) {
    // The top of the reservation: r becomes the open span. (Only stacks can
    // be topmost: an arena always lies below its owner.)
    r->kind = region_kind::open;
    r->state = region_state::live;
    r->arena = r->owner = nullptr;
    r->name = nullptr;
    heap_.changed(r);
    return;
  }
  if (heap_.holds(r)) heap_.erase(r);
  above->lo = r->lo;
  above->below = below;
  if (below != nullptr) below->above = above;
  else lowest_ = above;
  if (above->kind != region_kind::arena) heap_.changed(above);
  free_region(r);
}

void space_impl::release_now(region* r) noexcept {
  int error = 0;
  if (r->kind == region_kind::stack) error = detail::release_stack(mode_, r->zone_lo, r->zone_hi, r->hi);
  if (r->kind == region_kind::arena) {
    // Everything the arena handed out or made writable: commit_on_use makes
    // whole chunks writable, which may reach below the bump pointer.
    r->zone_lo = std::min(r->zone_lo & ~(std::uintptr_t{page_size()} - 1), r->arena_committed);
    error = release_plain(mode_, r->zone_lo, r->hi);
  }
  const std::size_t bytes = r->hi - (r->kind == region_kind::stack ? r->zone_hi : r->zone_lo);
  prefault_stack();
  lock_.lock();
  if (error != 0) {
    // The range could not be cleaned (a guard may remain in it): leave it
    // out of use for good rather than hand it to another fiber.
    r->state = region_state::quarantined;
    ++quarantined_;
    lock_.unlock();
    std::fprintf(stderr, "cospace: could not release %zu bytes of a fiber region (errno %d); "
                 "the range stays reserved\n", bytes, error);
    return;
  }
  counters_.bytes_released += bytes;
  retire(r);
  lock_.unlock();
}

void space_impl::release_arena(region* arena) noexcept {
  arena->owner->arena = nullptr;
  lock_.lock();
  --live_;
  lock_.unlock();
  release_now(arena);
}

bool space_impl::park(region* r) noexcept {
  // Requests that want nesting never take a parked region (placement.cpp),
  // so their regions are not parked either: they go back to their parent.
  if (parked_count_ == parked_.size() || r->zone_hi != r->initial_zone_hi || r->nested_request)
    return false;
  --live_;
  r->state = region_state::parked;
  r->name = nullptr;
  parked_[parked_count_++] = r;
  return true;
}

void space_impl::release_stack(region* r) noexcept {
  forget_stack_poison(r->zone_hi, r->top);
  if (r->arena == nullptr) [[likely]] {
    // The warm path, lean (the rest is out of line).
    prefault_stack_if_needed();
    lock_.lock();
    const bool parked = park(r);
    lock_.unlock();
    if (parked) return;
  }
  release_stack_slow(r);
}

void space_impl::release_stack_slow(region* r) noexcept {
  if (r->arena != nullptr) release_arena(r->arena);
  prefault_stack();
  lock_.lock();
  if (park(r)) {
    lock_.unlock();
    return;
  }
  --live_;
  lock_.unlock();
  release_now(r);
}

}  // namespace cospace::detail
