#include <cospace/fiber_local.hpp>

#include <atomic>

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
  if (f->locals == nullptr) f->locals = new fiber_locals;
  return f->locals->slot(key, destroy);
}

}  // namespace cospace::detail
