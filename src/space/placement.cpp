// Placement: where a new stack or arena goes.
//
// balanced: the region whose free part is largest gives up the lower half of
//   it; the new stack's top is the top of that half. With N stacks in a
//   reservation of R bytes every stack can still grow to about R/N.
// nested: the creating fiber's own region gives up the lower half of its
//   free part, so a family of fibers stays together and every child lies
//   below its parent (what the sjlj backend needs to enter a fresh stack).
//
//      victim before                         after carving
//   | free part           | zone | stack |   | new region | free | zone | stack |
//   lo                                 hi   lo           mid                   hi
//
// The open span at the top (the whole reservation when idle) is not halved:
// the new stack takes its top, as a process's stack takes the top of memory.
#include <algorithm>
#include <cerrno>
#include <string>

#include "os.hpp"
#include "prefault.hpp"
#include "protection.hpp"
#include "space_impl.hpp"

namespace cospace::detail {
namespace {

// Splits are rounded to this, so free parts stay aligned and a stack top
// shares its 2 MiB page-table page with as few neighbours as possible.
constexpr std::size_t split_granule = 64 * 1024;

// `needed`: the smallest free part that can give up a region, i.e. whose half,
// rounded down to the split granule, holds `min_region` bytes (the open span
// is not halved, so it needs only `min_region`).
std::string exhausted_message(std::size_t largest, std::size_t min_region, bool open, bool nested) {
  const std::size_t needed =
      open ? min_region : 2 * ((min_region + split_granule - 1) / split_granule * split_granule);
  return std::string(nested ? "the creating fiber's region" : "the fiber space") +
         " has no free span large enough for another stack (largest free part " +
         std::to_string(largest) + " bytes, a new region needs " + std::to_string(needed) +
         "); reserve more address space (COSPACE_RESERVATION) or end some fibers";
}

}  // namespace

region* space_impl::carve_below(region* victim, std::size_t bytes) {
  region* r = new_region();
  r->lo = victim->lo;
  r->hi = victim->lo + bytes;
  victim->lo = r->hi;
  r->below = victim->below;
  r->above = victim;
  if (victim->below != nullptr) victim->below->above = r;
  else lowest_ = r;
  victim->below = r;
  heap_.changed(victim);
  return r;
}

void space_impl::make_stack(region* r, std::size_t max_stack) {
  // Colour: each stack top moves down by a varying number of whole pages
  // (0-15) and a varying multiple of 64 bytes below 2 KiB. Halving puts every
  // region's top on a power-of-two boundary, so without it the hot top frames
  // of all fibers share the same page-address bits (TLB and page-walk
  // collisions, measured in docs/benchmarks.md) and the same cache sets. The
  // line offset stays under 2 KiB so a fiber using ~1 KiB of stack still
  // touches one page; the skipped pages above the top are never touched and
  // cost nothing.
  std::uintptr_t colour = 0;
  if (options_.colour_stacks) {
    const std::uint32_t n = colour_++;
    colour = (n % colour_pages) * page_size() + (n / colour_pages % colour_lines) * 64;
  }
  r->kind = region_kind::stack;
  r->state = region_state::live;
  r->top = r->hi - colour;
  r->zone_hi = (r->top & ~(std::uintptr_t{page_size()} - 1)) - options_.initial_stack;
  r->zone_lo = r->zone_hi - options_.guard_size;
  r->initial_zone_hi = r->zone_hi;
  r->max_stack = max_stack;
  r->growths = 0;
}

region* space_impl::take_parked(std::size_t max_stack) noexcept {
  if (parked_count_ == 0) return nullptr;
  region* r = parked_[--parked_count_];
  r->state = region_state::live;
  r->max_stack = max_stack;
  return r;
}

void space_impl::hand_out(region* r, const stack_request& request) noexcept {
  r->name = request.name;
  r->id = request.id != 0 ? request.id : next_id_++;
  r->nested_request = request.nested;
  ++live_;
  ++counters_.regions_acquired;
}

region* space_impl::acquire_stack(const stack_request& request) {
  // The warm path, lean (the rest is out of line): a parked region still has
  // its guard zone and its top page; reusing it makes no system call. Not for
  // requests that want nesting (the sjlj backend, or a nested space): a
  // parked region may be a small nested one, too small for the stacks its
  // fiber will carve below itself. (The space's own max_stack was checked
  // when it was made; a request's own is checked on the other path.)
  const bool nested =
      request.nested || (options_.placement == placement_policy::nested && request.parent != nullptr);
  if (!nested && (request.max_stack == 0 || request.max_stack >= page_)) [[likely]] {
    prefault_stack_if_needed();
    lock_.lock();
    if (region* r = take_parked(request.max_stack != 0 ? request.max_stack : options_.max_stack)) {
      hand_out(r, request);
      lock_.unlock();
      return r;
    }
    lock_.unlock();
  }
  return acquire_stack_slow(request);
}

region* space_impl::acquire_stack_slow(const stack_request& request) {
  // (The space's own max_stack was checked when it was made.)
  const std::size_t max_stack = request.max_stack != 0 ? request.max_stack : options_.max_stack;
  if (request.max_stack != 0 && max_stack < page_size()) {
    throw space_error(space_error::reason::bad_option,
                      "a fiber's max_stack must be at least one page (" +
                          std::to_string(page_size()) + " bytes)");
  }
  const bool nested =
      (request.nested || options_.placement == placement_policy::nested) && request.parent != nullptr;
  prefault_stack();
  lock_.lock();
  region* r = nullptr;
  bool fresh = true;
  if (!nested && !request.nested && (r = take_parked(max_stack)) != nullptr) {
    fresh = false;  // parked meanwhile, by another thread
  } else {
    region* victim = nested ? request.parent : heap_.largest();
    if (victim != nullptr && victim->kind == region_kind::open && victim->free_bytes() >= min_region_) {
      r = victim;
    } else {
      const std::size_t half =
          victim == nullptr ? 0 : victim->free_bytes() / 2 / split_granule * split_granule;
      if (half < min_region_) {
        const std::size_t largest = victim == nullptr ? 0 : victim->free_bytes();
        const bool open = victim != nullptr && victim->kind == region_kind::open;
        lock_.unlock();
        throw space_error(space_error::reason::exhausted,
                          exhausted_message(largest, min_region_, open, nested));
      }
      r = carve_below(victim, half);
      heap_.push(r);
    }
    make_stack(r, max_stack);
    heap_.changed(r);
  }
  hand_out(r, request);
  lock_.unlock();

  if (fresh) {
    // Nobody else can reach [zone_lo, hi) while we own it: prepare it unlocked.
    if (const int error = prepare_stack(mode_, r->zone_lo, r->zone_hi, r->hi)) {
      // A refused call may have applied in part: undo what it can, best effort.
      (void)detail::release_stack(mode_, r->zone_lo, r->zone_hi, r->hi);
      lock_.lock();
      --live_;
      retire(r);
      lock_.unlock();
      throw space_error(space_error::reason::system_call_failed,
                        "cannot prepare a fiber stack: " +
                            describe_failure(mode_ == protection_mode::guard_install
                                                 ? "madvise(MADV_GUARD_INSTALL)"
                                                 : "mprotect",
                                             reinterpret_cast<void*>(r->zone_lo),
                                             r->hi - r->zone_lo, error));
    }
  }
  return r;
}

region* space_impl::arena_of(region* owner) {
  if (owner->arena != nullptr) return owner->arena;
  prefault_stack();
  lock_.lock();
  const std::size_t half = owner->free_bytes() / 2 / split_granule * split_granule;
  if (half < split_granule) {
    lock_.unlock();
    return nullptr;
  }
  region* a = carve_below(owner, half);
  a->kind = region_kind::arena;
  a->zone_lo = a->zone_hi = a->hi;  // the bump pointer: nothing handed out yet
  a->arena_committed = a->hi;
  a->owner = owner;
  owner->arena = a;
  ++live_;
  lock_.unlock();
  // Arenas are private to their owner: they are not in the free-part heap,
  // so allocation needs no lock.
  return a;
}

void* space_impl::arena_allocate(region* arena, std::size_t n, std::size_t alignment) noexcept {
  if (n > arena->zone_lo - arena->lo) return nullptr;
  const std::uintptr_t address = (arena->zone_lo - n) & ~(std::uintptr_t{alignment} - 1);
  if (address < arena->lo) return nullptr;
  if (mode_ == protection_mode::commit_on_use && address < arena->arena_committed) {
    const std::uintptr_t lo = std::max(arena->lo, address / split_granule * split_granule);
    if (prepare_plain(mode_, lo, arena->arena_committed) != 0) return nullptr;
    arena->arena_committed = lo;
  }
  arena->zone_lo = address;
  return reinterpret_cast<void*>(address);
}

}  // namespace cospace::detail
