#include "exception_state.hpp"

namespace cospace::detail {

[[gnu::tls_model("initial-exec")]] thread_local constinit exception_state* t_exception_state = nullptr;

}  // namespace cospace::detail
