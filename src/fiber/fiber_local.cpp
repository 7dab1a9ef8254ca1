#include <cospace/fiber_local.hpp>

#include <atomic>
#include <new>

#include "fiber_control.hpp"
#include "fiber_locals.hpp"

namespace cospace::detail {
namespace {
std::atomic<std::size_t> g_next_key{0};
thread_local fiber_locals t_thread_locals;
}  // namespace

std::size_t new_fiber_local_key() noexcept { return g_next_key.fetch_add(1, std::memory_order_relaxed); }

void*& fiber_local_slot(std::size_t key, void (*destroy)(void*)) {
  fiber_control* f = current_fiber();
  if (f == nullptr) return t_thread_locals.slot(key, destroy);
  fiber_extras* extras = extras_of(f);
  if (extras == nullptr) throw std::bad_alloc();
  if (extras->locals == nullptr) extras->locals = new fiber_locals;
  return extras->locals->slot(key, destroy);
}

fiber_extras* extras_of(fiber_control* f) noexcept {
  if (f->extras == nullptr) f->extras = new (std::nothrow) fiber_extras;
  return f->extras;
}

void end_locals_and_arena(fiber_control* f) noexcept {
  fiber_extras* extras = f->extras;
  if (extras == nullptr) return;
  delete extras->locals;  // fiber-locals go first: their destructors may use the arena
  extras->locals = nullptr;
  delete extras->arena;
  extras->arena = nullptr;
}

}  // namespace cospace::detail
