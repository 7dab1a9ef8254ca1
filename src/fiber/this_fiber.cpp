// this_fiber: what the running fiber can ask about itself.
#include <cospace/fiber.hpp>

#include "context/backend.hpp"
#include "fiber_control.hpp"
#include "space/space_impl.hpp"

namespace cospace::this_fiber {

bool active() noexcept { return detail::current_fiber() != nullptr; }

std::uint64_t id() noexcept {
  const detail::fiber_control* f = detail::current_fiber();
  return f != nullptr ? f->id : 0;
}

std::string_view name() noexcept {
  const detail::fiber_control* f = detail::current_fiber();
  return f != nullptr ? f->name : std::string_view{};
}

void trim_stack() {
  detail::fiber_control* f = detail::current_fiber();
  if (f == nullptr) throw fiber_error("cospace: this_fiber::trim_stack() was called outside any fiber");
  detail::region* r = f->stack.owner_region;
  if (r == nullptr) return;  // fixed stacks keep their pages
  r->space->trim_stack(r, reinterpret_cast<std::uintptr_t>(context::selected.stack_pointer()));
}

std::pmr::memory_resource* arena() noexcept {
  detail::fiber_control* f = detail::current_fiber();
  if (f == nullptr || f->stack.owner_region == nullptr) return std::pmr::new_delete_resource();
  detail::fiber_extras* extras = detail::extras_of(f);
  if (extras == nullptr) return std::pmr::new_delete_resource();
  if (extras->arena == nullptr) extras->arena = new (std::nothrow) detail::arena_resource(f->stack.owner_region);
  return extras->arena != nullptr ? static_cast<std::pmr::memory_resource*>(extras->arena)
                                  : std::pmr::new_delete_resource();
}

}  // namespace cospace::this_fiber
