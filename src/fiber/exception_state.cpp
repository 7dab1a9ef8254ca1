#include "exception_state.hpp"

namespace cospace::detail {

[[gnu::tls_model("initial-exec")]] thread_local constinit exception_state* t_exception_state = nullptr;

exception_state* first_thread_exception_state() noexcept {
  t_exception_state = reinterpret_cast<exception_state*>(abi::__cxa_get_globals());
  return t_exception_state;
}

}  // namespace cospace::detail
