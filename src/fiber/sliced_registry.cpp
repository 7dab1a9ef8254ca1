// The registry of sliced fibers (see sliced_registry.hpp).
//
// Each thread that makes sliced fibers uses one registry; registries are
// never freed but handed on: when a thread ends, its registry is free for the
// next thread that needs one (fibers still on it stay listed). All of them
// are on one list, newest first, from `cospace_debug_sliced_registries`.
//
// A sliced fiber never runs on another thread, but one that is created or
// done may be destroyed on another: so each registry has a lock, and a fiber
// not on the calling thread's registry is looked for on the others. A record
// is on registry r exactly when r.fibers[slot] is the record, slot being its
// debug_slot (read and written atomically: another thread's registry may be
// moving it while this one looks).
#include "sliced_registry.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>

#include "fiber_control.hpp"
#include "space/spin_lock.hpp"

namespace cospace::detail {

struct sliced_registry {
  spin_lock lock;
  fiber_control** fibers = nullptr;  // [0, count): live sliced fibers (malloc'd)
  std::uint32_t count = 0;
  std::uint32_t capacity = 0;
  std::uint64_t left_out = 0;        // fibers not registered: the array could not grow
  std::atomic<int> owner_thread{0};  // the kernel id of the thread using it; 0: free
  sliced_registry* next = nullptr;   // all registries, newest first
};

}  // namespace cospace::detail

// For debuggers (tools/gdb/cospace.py): the newest registry.
extern "C" {
COSPACE_API cospace::detail::sliced_registry* cospace_debug_sliced_registries = nullptr;
}

namespace cospace::detail {
namespace {

constexpr std::uint32_t not_registered = UINT32_MAX;

std::mutex g_adopting;  // guards the list's head and the hand-over of registries
[[gnu::tls_model("initial-exec")]] constinit thread_local sliced_registry* t_registry = nullptr;

std::atomic_ref<std::uint32_t> slot_of(fiber_control* f) noexcept { return std::atomic_ref(f->stack.debug_slot); }

struct give_back_at_exit {
  ~give_back_at_exit() {
    if (t_registry == nullptr) return;
    t_registry->owner_thread.store(0, std::memory_order_release);
    t_registry = nullptr;  // another thread may adopt it from now on
  }
};

// A registry for the calling thread: a free one, or a new one.
sliced_registry* adopt() noexcept {
  static thread_local give_back_at_exit at_exit;  // made here, once per thread
  static_cast<void>(at_exit);
  const int self = this_thread_id();
  std::lock_guard guard(g_adopting);
  for (sliced_registry* r = cospace_debug_sliced_registries; r != nullptr; r = r->next) {
    int free = 0;
    if (r->owner_thread.compare_exchange_strong(free, self, std::memory_order_acq_rel)) return r;
  }
  auto* r = new (std::nothrow) sliced_registry;
  if (r == nullptr) return nullptr;
  r->owner_thread.store(self, std::memory_order_relaxed);
  r->next = cospace_debug_sliced_registries;
  std::atomic_ref(cospace_debug_sliced_registries).store(r, std::memory_order_release);
  return r;
}

// Resizes r's array to `capacity` (lock held); false when memory is short.
bool resize(sliced_registry& r, std::uint32_t capacity) noexcept {
  void* const array = std::realloc(static_cast<void*>(r.fibers), std::size_t{capacity} * sizeof(fiber_control*));
  if (array == nullptr) return false;
  r.fibers = static_cast<fiber_control**>(array);
  r.capacity = capacity;
  return true;
}

// Takes f off r if it is there.
bool remove_from(sliced_registry& r, fiber_control* f) noexcept {
  std::lock_guard guard(r.lock);
  const std::uint32_t slot = slot_of(f).load(std::memory_order_relaxed);
  if (slot >= r.count || r.fibers[slot] != f) return false;
  fiber_control* const last = r.fibers[--r.count];
  r.fibers[slot] = last;
  slot_of(last).store(slot, std::memory_order_relaxed);
  // Shrink a mostly empty array (it held many fibers once).
  if (r.capacity > 1024 && r.count < r.capacity / 4) resize(r, r.capacity / 2);
  return true;
}

}  // namespace

void register_sliced(fiber_control* f) noexcept {
  slot_of(f).store(not_registered, std::memory_order_relaxed);
  sliced_registry* r = t_registry;
  if (r == nullptr) [[unlikely]] {
    r = adopt();
    if (r == nullptr) return;  // not even a registry: nothing can count it
    t_registry = r;
  }
  std::lock_guard guard(r->lock);
  if (r->count == r->capacity) {
    const bool can_double = r->capacity <= UINT32_MAX / 2;  // indexes stay below not_registered
    if (!can_double || !resize(*r, r->capacity == 0 ? 64 : r->capacity * 2)) {
      ++r->left_out;
      return;
    }
  }
  slot_of(f).store(r->count, std::memory_order_relaxed);
  r->fibers[r->count++] = f;
}

void unregister_sliced(fiber_control* f) noexcept {
  if (slot_of(f).load(std::memory_order_relaxed) == not_registered) return;
  sliced_registry* const own = t_registry;
  if (own != nullptr && remove_from(*own, f)) return;
  for (sliced_registry* r = std::atomic_ref(cospace_debug_sliced_registries).load(std::memory_order_acquire);
       r != nullptr; r = r->next) {
    if (r != own && remove_from(*r, f)) return;
  }
}

}  // namespace cospace::detail
