// The public face of a space.
#include <cospace/space.hpp>

#include "space_impl.hpp"

namespace cospace {

const char* to_string(protection_mode mode) noexcept {
  switch (mode) {
    case protection_mode::guard_install: return "guard-install";
    case protection_mode::mprotect: return "mprotect";
    case protection_mode::commit_on_use: return "commit-on-use";
  }
  return "unknown";
}

const char* to_string(placement_policy policy) noexcept {
  switch (policy) {
    case placement_policy::balanced: return "balanced";
    case placement_policy::nested: return "nested";
  }
  return "unknown";
}

space::space(const space_options& options) : impl_(std::make_unique<detail::space_impl>(options)) {}

space::~space() = default;

}  // namespace cospace

// For debuggers (tools/gdb/cospace.py): the global space, once it exists.
extern "C" {
COSPACE_API cospace::detail::space_impl* cospace_debug_global_space = nullptr;
}

namespace cospace::detail {
std::atomic<space_impl*> g_global_space{nullptr};
}

namespace cospace {

space& space::global() {
  // Never destroyed: fibers may end during static destruction.
  static space* const instance = [] {
    auto* s = new space();
    cospace_debug_global_space = &s->impl();
    detail::g_global_space.store(&s->impl(), std::memory_order_release);
    return s;
  }();
  return *instance;
}

space_stats space::stats() const { return impl_->stats(); }

void space::trim() { impl_->trim(); }

}  // namespace cospace
