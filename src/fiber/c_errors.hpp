// The C API's per-thread last error (cospace_last_error, _message), shared
// by every C entry point of the library.
#pragma once

#include <cospace/status.h>

namespace cospace::detail {

// Records a failure with its message and returns `status`.
cospace_status c_fail(cospace_status status, const char* message) noexcept;
// Records success and returns COSPACE_OK.
cospace_status c_succeed() noexcept;

}  // namespace cospace::detail
