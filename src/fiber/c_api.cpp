// The C API: cospace.h over the fiber core. Every entry point catches
// everything: no C++ exception crosses into C.
#include <cospace/cospace.h>
#include <cospace/fiber.hpp>
#include <cospace/space.hpp>

#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "c_errors.hpp"
#include "fiber_control.hpp"

namespace cospace::detail {
void discard_fiber(fiber_control* f) noexcept;
}

namespace {

using cospace::detail::fiber_control;

struct c_body {
  cospace_fiber_function function;
  void* arg;
};

constexpr cospace::detail::fiber_body_ops c_body_ops{
    [](void* body) {
      const auto* b = static_cast<c_body*>(body);
      b->function(b->arg);
    },
    [](void*) noexcept {},
    [](void* where, void* source) -> void* { return ::new (where) c_body(*static_cast<c_body*>(source)); },
    sizeof(c_body), alignof(c_body)};

thread_local cospace_status t_last_error = COSPACE_OK;
thread_local std::string t_last_message;

cospace_status fail(cospace_status status, const char* message) noexcept {
  t_last_error = status;
  try {
    t_last_message = message;
  } catch (...) {
    t_last_message.clear();
  }
  return status;
}

cospace_status succeed() noexcept {
  t_last_error = COSPACE_OK;
  return COSPACE_OK;
}

// Maps whatever is in flight to a status and message.
cospace_status fail_with_current_exception(cospace_status for_unknown) noexcept {
  try {
    throw;
  } catch (const cospace::fiber_error& e) {
    return fail(COSPACE_ERROR_FIBER_MISUSE, e.what());
  } catch (const cospace::space_error& e) {
    switch (e.why()) {
      case cospace::space_error::reason::bad_option: return fail(COSPACE_ERROR_BAD_OPTION, e.what());
      case cospace::space_error::reason::exhausted: return fail(COSPACE_ERROR_EXHAUSTED, e.what());
      default: return fail(COSPACE_ERROR_SYSTEM, e.what());
    }
  } catch (const std::bad_alloc&) {
    return fail(COSPACE_ERROR_OUT_OF_MEMORY, "cospace: out of memory");
  } catch (const std::exception& e) {
    return fail(for_unknown, e.what());
  } catch (...) {
    return fail(for_unknown, "cospace: an exception that is not a std::exception");
  }
}

}  // namespace

namespace cospace::detail {
cospace_status c_fail(cospace_status status, const char* message) noexcept { return fail(status, message); }
cospace_status c_succeed() noexcept { return succeed(); }
}  // namespace cospace::detail

namespace {

fiber_control* control_of(cospace_fiber* f) { return reinterpret_cast<fiber_control*>(f); }
const fiber_control* control_of(const cospace_fiber* f) { return reinterpret_cast<const fiber_control*>(f); }

}  // namespace

extern "C" {

COSPACE_API cospace_status cospace_fiber_create(cospace_fiber** out, cospace_fiber_function fn, void* arg,
                                                const cospace_fiber_options* options) noexcept {
  if (out == nullptr || fn == nullptr)
    return fail(COSPACE_ERROR_NULL_ARGUMENT, "cospace_fiber_create: `out` and `fn` must not be NULL");
  *out = nullptr;
  cospace::fiber_options o;
  if (options != nullptr) {
    // Read as an integer: C callers may pass any value, which C++ must not
    // load as the enum.
    int kind = 0;
    std::memcpy(&kind, &options->stack, sizeof kind);
    switch (kind) {
      case COSPACE_STACK_REGION: o.stack = cospace::stack_kind::region; break;
      case COSPACE_STACK_SLICED: o.stack = cospace::stack_kind::sliced; break;
      case COSPACE_STACK_FIXED: o.stack = cospace::stack_kind::fixed; break;
      default: return fail(COSPACE_ERROR_BAD_OPTION, "cospace_fiber_create: unknown stack kind");
    }
    if (options->name != nullptr) o.name = options->name;
    o.max_stack = options->max_stack;
    o.fixed_size = options->fixed_size;
  }
  try {
    c_body body{fn, arg};
    *out = reinterpret_cast<cospace_fiber*>(cospace::detail::create_fiber(o, c_body_ops, &body));
    return succeed();
  } catch (...) {
    return fail_with_current_exception(COSPACE_ERROR_BAD_OPTION);
  }
}

COSPACE_API cospace_status cospace_fiber_resume(cospace_fiber* fiber) noexcept {
  if (fiber == nullptr) return fail(COSPACE_ERROR_NULL_ARGUMENT, "cospace_fiber_resume: NULL fiber");
  try {
    // fiber::resume()'s two halves (fiber.hpp): the switch returns into this frame.
    cospace::detail::resume_frame frame;
    cospace::detail::resume_landed(cospace::detail::resume_switch(control_of(fiber), frame), frame);
    return succeed();
  } catch (...) {
    return fail_with_current_exception(COSPACE_ERROR_FIBER_THREW);
  }
}

COSPACE_API cospace_status cospace_fiber_yield(void) {
  if (cospace::detail::current_fiber() == nullptr)
    return fail(COSPACE_ERROR_NOT_IN_FIBER, "cospace: cospace_fiber_yield() was called outside any fiber");
  try {
    cospace::this_fiber::yield();
    return succeed();
  } catch (const cospace::forced_unwind&) {
    throw;  // a C++ fiber being destroyed: its C frames are unwound too
  } catch (...) {
    return fail_with_current_exception(COSPACE_ERROR_FIBER_MISUSE);
  }
}

COSPACE_API int cospace_fiber_done(const cospace_fiber* fiber) noexcept {
  return fiber != nullptr && control_of(fiber)->state == cospace::detail::fiber_state::done ? 1 : 0;
}

COSPACE_API cospace_status cospace_fiber_destroy(cospace_fiber* fiber) noexcept {
  if (fiber == nullptr) return succeed();
  fiber_control* f = control_of(fiber);
  if (f->state == cospace::detail::fiber_state::running) {
    return fail(COSPACE_ERROR_FIBER_MISUSE,
                ("cospace: " + cospace::detail::describe(f) + " cannot be destroyed while it is running").c_str());
  }
  cospace::detail::discard_fiber(f);
  return succeed();
}

COSPACE_API const char* cospace_fiber_name(const cospace_fiber* fiber) noexcept {
  return fiber != nullptr && !control_of(fiber)->name.empty() ? control_of(fiber)->name.data() : "";
}

COSPACE_API uint64_t cospace_fiber_id(const cospace_fiber* fiber) noexcept {
  return fiber != nullptr ? control_of(fiber)->id : 0;
}

COSPACE_API cospace_fiber* cospace_fiber_current(void) noexcept {
  return reinterpret_cast<cospace_fiber*>(cospace::detail::current_fiber());
}

COSPACE_API cospace_status cospace_last_error(void) noexcept { return t_last_error; }

COSPACE_API const char* cospace_last_error_message(void) noexcept {
  return t_last_error == COSPACE_OK ? "" : t_last_message.c_str();
}

}  // extern "C"
