#include "exception_state.hpp"

namespace cospace::detail {
namespace {
[[gnu::tls_model("initial-exec")]] thread_local exception_state* t_state = nullptr;
}

exception_state* thread_exception_state() noexcept {
  // The address is fixed for the thread's life: ask the runtime once.
  if (t_state == nullptr) t_state = reinterpret_cast<exception_state*>(abi::__cxa_get_globals());
  return t_state;
}

}  // namespace cospace::detail
