// Per-thread slicing state: the copier, the shared stacks, the settings.
#include "thread_slicing.hpp"

#include <cospace/fiber.hpp>
#include <cospace/space.hpp>

#include <memory>
#include <string>
#include <vector>

#include "context/backend.hpp"
#include "space/fault_handler.hpp"
#include "space/space_impl.hpp"

namespace cospace::detail {

cospace_context make_copier_context(void* top, std::size_t size);

namespace {

// The copier's own stack: copies need little (memcpy, realloc), but realloc
// may call into the kernel and a signal may land here.
constexpr std::size_t copier_stack_limit = 256 * 1024;
constexpr std::size_t max_shared_stacks = 64;

struct stack_group {  // the shared stacks of one limit, filled round-robin
  std::size_t max_stack = 0;
  std::vector<pooled_stack*> stacks;
  std::size_t next = 0;
};

class thread_slicing {
 public:
  ~thread_slicing() {
    drop_groups();
    if (copier_region_ != nullptr) copier_region_->space->release_stack(copier_region_);
  }

  pooled_stack* take(std::size_t max_stack) {
    ensure_copier();
    const std::size_t limit = max_stack != 0 ? max_stack : options_.max_stack;
    stack_group& g = group_for(limit);
    pooled_stack*& slot = g.stacks[g.next];
    g.next = (g.next + 1) % g.stacks.size();
    if (slot == nullptr) slot = make_stack(limit);
    slot->users.fetch_add(1, std::memory_order_relaxed);
    return slot;
  }

  void configure(const slicing_options& options) {
    if (options.shared_stacks == 0 || options.shared_stacks > max_shared_stacks) {
      throw fiber_error("cospace: slicing_options::shared_stacks must be between 1 and " +
                        std::to_string(max_shared_stacks) + ", not " + std::to_string(options.shared_stacks));
    }
    drop_groups();  // fibers made before keep their stacks (they hold a reference each)
    options_ = options;
  }

  const slicing_options& options() const noexcept { return options_; }

  cospace_context& copier() {
    ensure_copier();
    return copier_;
  }
  std::uintptr_t copier_bottom() {
    ensure_copier();
    // From the fixed limit, not `lo`: another thread may be carving below
    // the region (moving `lo`) right now, under the space's lock.
    return copier_region_->top - copier_region_->max_stack;
  }
  region* copier_region() noexcept { return copier_region_; }

  shared_stack domain{UINTPTR_MAX, 0, nullptr, nullptr};

  // True when `address` is in one of this thread's shared stacks, below the
  // live area of the code running now (if that code is on the same stack).
  bool in_suspended_part(std::uintptr_t address) const noexcept {
    const auto sp = reinterpret_cast<std::uintptr_t>(context::selected.stack_pointer());
    for (const stack_group& g : groups_) {
      for (const pooled_stack* s : g.stacks) {
        if (s == nullptr || !s->stack.contains(address)) continue;
        return !s->stack.contains(sp) || address < sp;
      }
    }
    return false;
  }

 private:
  void drop_groups() noexcept {
    for (stack_group& g : groups_)
      for (pooled_stack* s : g.stacks)
        if (s != nullptr) leave_shared_stack(s);
    groups_.clear();
  }

  void ensure_copier() {
    if (copier_ != nullptr) return;
    prepare_thread_for_fibers();
    stack_request request;
    request.max_stack = copier_stack_limit;
    request.name = "cospace slicing copier";
    // sjlj: the shared stacks are carved below the copier, so it must be a
    // large fresh region, not a parked one.
    request.nested = context::selected.needs_stack_below_caller;
    region* r = space::global().impl().acquire_stack(request);
    copier_ = make_copier_context(reinterpret_cast<void*>(r->top), r->max_stack);
    if (copier_ == nullptr) {
      r->space->release_stack(r);
      throw fiber_error(
          "cospace: sliced fibers need a copier stack below the thread's stack on the sjlj "
          "backend, and this thread's stack is below the space (use the asm or ucontext backend)");
    }
    copier_region_ = r;
  }

  stack_group& group_for(std::size_t limit) {
    for (stack_group& g : groups_)
      if (g.max_stack == limit) return g;
    stack_group& g = groups_.emplace_back();
    g.max_stack = limit;
    g.stacks.assign(options_.shared_stacks, nullptr);
    return g;
  }

  pooled_stack* make_stack(std::size_t limit) {
    stack_request request;
    request.max_stack = limit;
    request.name = "shared stack";
    // sjlj enters fresh contexts from the copier, which must lie above them.
    if (context::selected.needs_stack_below_caller) {
      request.parent = copier_region_;
      request.nested = true;
    }
    region* r = space::global().impl().acquire_stack(request);
    auto* s = new pooled_stack;
    s->stack.top = r->top;
    s->stack.bottom = r->top - r->max_stack;  // not lo: other threads may carve below it
    s->stack.owner_region = r;
    s->owner_thread = this;
    return s;
  }

  slicing_options options_{};
  std::vector<stack_group> groups_;
  cospace_context copier_ = nullptr;
  region* copier_region_ = nullptr;
};

thread_local thread_slicing t_slicing;

}  // namespace

pooled_stack* take_shared_stack(std::size_t max_stack) { return t_slicing.take(max_stack); }

void leave_shared_stack(pooled_stack* s) noexcept {
  if (s->users.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  region* r = s->stack.owner_region;
  r->space->release_stack(r);
  delete s;
}

bool on_owner_thread(const pooled_stack* s) noexcept { return s->owner_thread == &t_slicing; }

cospace_context& copier_context() { return t_slicing.copier(); }
region* copier_region() { return t_slicing.copier_region(); }
std::uintptr_t copier_bottom() { return t_slicing.copier_bottom(); }

shared_stack& declared_stack_domain() noexcept { return t_slicing.domain; }

}  // namespace cospace::detail

namespace cospace {

void configure_slicing(const slicing_options& options) { detail::t_slicing.configure(options); }

slicing_options slicing_configuration() noexcept { return detail::t_slicing.options(); }

slicing_statistics slicing_stats() noexcept {
  const detail::slice_counters& c = detail::this_thread_slice_counters();
  return {c.saves, c.restores, c.bytes_saved, c.bytes_restored, c.switches_in, c.copy_free};
}

}  // namespace cospace

namespace cospace {

bool points_into_suspended_slice(const void* address) noexcept {
  return detail::t_slicing.in_suspended_part(reinterpret_cast<std::uintptr_t>(address));
}

}  // namespace cospace
