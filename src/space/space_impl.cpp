// The space's life: construction (options checked, reservation made, fault
// handler installed), destruction, statistics, and the invariant check the
// randomised tests run after every step.
#include "space_impl.hpp"
#include "space_registry.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fault_handler.hpp"
#include "os.hpp"
#include "reservation.hpp"

namespace cospace::detail {
namespace {

std::size_t round_up(std::size_t n, std::size_t unit) { return (n + unit - 1) / unit * unit; }

void validate(const space_options& o) {
  const std::size_t page = page_size();
  auto refuse = [](const std::string& what) {
    throw space_error(space_error::reason::bad_option, "space_options::" + what);
  };
  if (o.max_stack < page)
    refuse("max_stack must be at least one page (" + std::to_string(page) + " bytes)");
  if (o.guard_size < page)
    refuse("guard_size must be at least one page (" + std::to_string(page) + " bytes)");
  if (o.initial_stack < page)
    refuse("initial_stack must be at least one page (" + std::to_string(page) + " bytes)");
  if (o.initial_stack > o.max_stack) refuse("initial_stack must not exceed max_stack");
  if (o.placement != placement_policy::balanced && o.placement != placement_policy::nested)
    refuse("placement is not a known policy (balanced or nested)");
  if (o.force_mode && o.mode != protection_mode::guard_install &&
      o.mode != protection_mode::mprotect && o.mode != protection_mode::commit_on_use)
    refuse("mode is not a known protection mode");
}

space_options normalised(space_options o) {
  validate(o);
  const std::size_t page = page_size();
  o.max_stack = round_up(o.max_stack, page);
  o.guard_size = round_up(o.guard_size, page);
  o.initial_stack = round_up(o.initial_stack, page);
  return o;
}

}  // namespace

space_impl::space_impl(const space_options& options)
    : options_(normalised(options)), mode_(protection_mode::guard_install) {
  // The smallest region: the colour offset (whole pages plus part of one),
  // the initial stack and one guard zone.
  page_ = page_size();
  min_region_ = (colour_pages + 1) * page_size() + options_.initial_stack + options_.guard_size;
  const reservation res = reserve(options_.reservation, min_region_, options_);
  base_ = res.base;
  size_ = res.size;
  mode_ = res.mode;
  // Own before acting: from here the destructor unmaps.
  try {
    heap_.reserve(1024);
    parked_.resize(options_.parked_regions);
    region* open = new_region();
    open->lo = base_;
    open->hi = base_ + size_;
    open->kind = region_kind::open;
    lowest_ = open;
    heap_.push(open);
    install_fault_handler();
  } catch (...) {
    os().munmap(reinterpret_cast<void*>(base_), size_);
    throw;
  }
  register_space(this);
}

space_impl::~space_impl() {
  unregister_space(this);
  trim();
  if (live_ != 0) {
    std::fprintf(stderr,
                 "cospace: a space was destroyed while %zu of its regions (fiber stacks or "
                 "arenas) were still in use\n",
                 live_);
    std::abort();
  }
  os().munmap(reinterpret_cast<void*>(base_), size_);
}

region* space_impl::new_region() {
  if (!spare_.empty()) {
    region* r = spare_.back();
    spare_.pop_back();
    *r = region{};
    r->space = this;
    return r;
  }
  if (spare_.capacity() < pool_.size() + 1) spare_.reserve(2 * (pool_.size() + 1));
  region& r = pool_.emplace_back();
  r.space = this;
  return &r;
}

void space_impl::free_region(region* r) noexcept {
  spare_.push_back(r);  // never reallocates: new_region() keeps capacity >= pool size
}

space_stats space_impl::stats() const {
  lock_.lock();
  space_stats s = counters_;
  s.live_regions = live_;
  s.parked_regions = parked_count_;
  s.reserved_bytes = size_;
  s.largest_free_span = heap_.empty() ? 0 : heap_.largest()->free_bytes();
  s.mode = mode_;
  s.placement = options_.placement;
  lock_.unlock();
  return s;
}

void space_impl::trim() {
  prefault_stack();
  for (;;) {
    lock_.lock();
    if (parked_count_ == 0) {
      lock_.unlock();
      return;
    }
    region* r = parked_[--parked_count_];
    lock_.unlock();
    release_now(r);
  }
}

std::string space_impl::check_invariants() const {
  std::string problem;
  auto fail = [&](const region& r, const std::string& what) {
    if (problem.empty()) {
      char where[96];
      std::snprintf(where, sizeof where, "region [%#zx, %#zx): ", static_cast<std::size_t>(r.lo),
                    static_cast<std::size_t>(r.hi));
      problem = where + what;
    }
  };
  lock_.lock();
  std::uintptr_t expected_lo = base_;
  std::size_t counted_live = 0, counted_parked = 0, in_heap = 0;
  const region* previous = nullptr;
  for (const region* r = lowest_; r != nullptr; previous = r, r = r->above) {
    if (r->below != previous) fail(*r, "broken below link");
    if (r->lo != expected_lo) fail(*r, "does not start where the region below ends (gap or overlap)");
    if (r->lo >= r->hi) fail(*r, "empty or inverted");
    expected_lo = r->hi;
    switch (r->kind) {
      case region_kind::open:
        if (r->above != nullptr) fail(*r, "an open span that is not the topmost region");
        break;
      case region_kind::stack:
        if (!(r->lo <= r->zone_lo && r->zone_lo + options_.guard_size == r->zone_hi &&
              r->zone_hi < r->top && r->top <= r->hi &&
              r->hi - r->top < (colour_pages + 1) * page_size()))
          fail(*r, "guard zone or stack top outside the region");
        if (r->top % 16 != 0) fail(*r, "stack top not 16-byte aligned");
        if (r->arena != nullptr && (r->arena->owner != r || r->arena->kind != region_kind::arena))
          fail(*r, "arena link broken");
        if (r->state == region_state::parked) ++counted_parked;
        else if (r->state == region_state::live) ++counted_live;
        break;
      case region_kind::arena:
        if (!(r->lo <= r->zone_lo && r->zone_lo <= r->hi)) fail(*r, "arena bump pointer outside");
        if (r->owner == nullptr || r->owner->arena != r) fail(*r, "arena without its owner");
        ++counted_live;
        break;
    }
    if (r->kind != region_kind::arena) {
      ++in_heap;
      if (r->heap_index >= heap_.size()) fail(*r, "missing from the free-part heap");
    }
  }
  if (problem.empty() && expected_lo != base_ + size_) problem = "regions do not cover the reservation";
  if (problem.empty() && counted_live != live_) problem = "live region count is wrong";
  if (problem.empty() && counted_parked != parked_count_) problem = "parked region count is wrong";
  if (problem.empty() && in_heap != heap_.size()) problem = "the heap holds regions not in the list";
  if (problem.empty() && !heap_.well_ordered()) problem = "the free-part heap is out of order";
  lock_.unlock();
  return problem;
}

}  // namespace cospace::detail
