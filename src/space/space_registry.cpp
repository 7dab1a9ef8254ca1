#include "space_registry.hpp"

#include <cospace/config.h>

#include <mutex>

#include "space_impl.hpp"

// The newest space first. A debugger reads it while the program is stopped;
// the lock keeps threads that make or destroy spaces from racing each other.
extern "C" {
COSPACE_API cospace::detail::space_impl* cospace_debug_spaces = nullptr;
}

namespace cospace::detail {
namespace {

std::mutex& registry_lock() {
  static std::mutex lock;  // spaces may be made during static initialisation
  return lock;
}

}  // namespace

void register_space(space_impl* s) noexcept {
  const std::lock_guard<std::mutex> hold(registry_lock());
  s->debug_prev = nullptr;
  s->debug_next = cospace_debug_spaces;
  if (cospace_debug_spaces != nullptr) cospace_debug_spaces->debug_prev = s;
  cospace_debug_spaces = s;
}

void unregister_space(space_impl* s) noexcept {
  const std::lock_guard<std::mutex> hold(registry_lock());
  if (s->debug_prev != nullptr) s->debug_prev->debug_next = s->debug_next;
  else cospace_debug_spaces = s->debug_next;
  if (s->debug_next != nullptr) s->debug_next->debug_prev = s->debug_prev;
  s->debug_next = s->debug_prev = nullptr;
}

}  // namespace cospace::detail
