// cospace::fiber — a function running on its own stack, resumed and suspended
// explicitly. Its stack needs no size: by default it lives in a region of a
// cospace::space and grows on demand (see docs/design.md).
#pragma once

#include <cospace/config.h>
#include <cospace/context.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory_resource>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace cospace {

class space;

enum class stack_kind {
  region,  // a region of a space: grows on demand, guarded (default)
  sliced,  // shares a stack with other fibers, saved to the heap when suspended;
           // never hand other fibers pointers into its stack (cospace/slicing.hpp)
  fixed,   // a fixed-size guarded stack from a pool, for comparison
};

const char* to_string(stack_kind kind) noexcept;

struct fiber_options {
  stack_kind stack = stack_kind::region;
  std::string_view name = {};  // shown in diagnostics and the debugger (copied)
  std::size_t max_stack = 0;   // 0: the space's default limit
  std::size_t fixed_size = 0;  // stack_kind::fixed only; 0: 64 KiB
  cospace::space* space = nullptr;  // stack_kind::region: nullptr means space::global()
};

// A fiber used the wrong way: resumed when finished or running, yield outside
// any fiber, and so on. The message names the fiber and the mistake.
class COSPACE_API fiber_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class fiber;

namespace detail {
struct forced_unwind_access;
struct fiber_access;  // the scheduler's access to a handle's record (src/fiber/transfer.hpp)
}

// Thrown inside a suspended fiber whose handle is destroyed, so that its
// stack unwinds and every destructor on it runs. Not a std::exception, so
// `catch (const std::exception&)` lets it pass; a body that catches it with
// `catch (...)` must rethrow it (swallowing it is reported and aborts).
// Thrown into a fiber_context, it carries the context that destroyed the
// handle, which the context's entry resumes once the stack is unwound; a
// copy carries nothing (rethrow with `throw;`, never `throw copy;`).
class COSPACE_API forced_unwind {
 public:
  forced_unwind() noexcept = default;
  forced_unwind(const forced_unwind&) noexcept {}
  forced_unwind& operator=(const forced_unwind&) noexcept { return *this; }
  ~forced_unwind();  // still carrying a context: it was swallowed (reported, abort)

 private:
  friend struct detail::forced_unwind_access;
  explicit forced_unwind(void* return_to) noexcept : return_to_(return_to) {}
  void* return_to_ = nullptr;  // fiber_context only: the context to resume once unwound
};

namespace detail {
class fiber_control;
struct fiber_body_ops {
  void (*run)(void* body);
  void (*destroy)(void* body) noexcept;
  void* (*construct)(void* where, void* source);  // moves/copies the callable into place
  std::size_t size;
  std::size_t alignment;
};
COSPACE_API fiber_control* create_fiber(const fiber_options& options, const fiber_body_ops& ops,
                                        void* source);
COSPACE_API void destroy_fiber(fiber_control* control) noexcept;

// fiber::resume() and this_fiber::yield() are inline, each in two halves
// (src/fiber/switch.cpp). The first half checks, sets up and makes the
// switch as its very last step (a tail call), so the switch returns
// straight into the caller's own frame; the second half, an ordinary call
// from there, settles the side that has just arrived. A function that
// switched stacks and then returned to its caller cost about 8 ns more
// per round trip (two returns after each switch instead of one:
// bench/fiber.cpp's resume_yield_diag rows; docs/benchmarks.md, B1).
struct resume_frame {  // what a resumer sets aside while the fiber runs
  void* outer_region;
  fiber_control* outer;
};
COSPACE_API cospace_transfer resume_switch(fiber_control* f, resume_frame& frame);
COSPACE_API void resume_landed(cospace_transfer back, const resume_frame& frame);
COSPACE_API cospace_transfer yield_switch();
COSPACE_API void yield_landed(cospace_transfer back) noexcept;
}  // namespace detail

class fiber;
namespace this_fiber {
// Symmetric transfer: the running fiber suspends and `target` (made or
// suspended, not running) runs in its place, straight away, without going
// back through the resumer. When `target` yields or ends, control returns
// to whoever resumed the running fiber; the running fiber continues here
// when it is next resumed. Throws fiber_error outside any fiber, or when
// `target` is empty, running, finished or the running fiber itself.
COSPACE_API void switch_to(fiber& target);
}  // namespace this_fiber

class COSPACE_API fiber {
 public:
  fiber() noexcept = default;

  template <std::invocable F>
  explicit fiber(F&& body, fiber_options options = {})
      : control_(detail::create_fiber(options, ops_for<F>(),
                                      const_cast<void*>(static_cast<const void*>(std::addressof(body))))) {}

  fiber(fiber&& other) noexcept : control_(std::exchange(other.control_, nullptr)) {}
  fiber& operator=(fiber&& other) noexcept {
    if (this != &other) {
      reset();
      control_ = std::exchange(other.control_, nullptr);
    }
    return *this;
  }
  fiber(const fiber&) = delete;
  fiber& operator=(const fiber&) = delete;

  // A suspended fiber is unwound first (forced_unwind runs its destructors).
  // Destroying a running fiber is a bug: reported, then abort.
  ~fiber() { reset(); }

  // Runs the fiber until its body yields or returns; rethrows what escaped it.
  // Throws fiber_error when the fiber is empty, finished or already running.
  void resume() {
    detail::resume_frame frame;
    detail::resume_landed(detail::resume_switch(control_, frame), frame);
  }
  bool done() const noexcept;
  explicit operator bool() const noexcept { return control_ != nullptr; }

  std::uint64_t id() const noexcept;      // 0 for an empty fiber
  std::string_view name() const noexcept;  // empty if none was given
  stack_kind kind() const noexcept;
  // Bytes of stack in use now: from the top to the deepest page made usable
  // (region), or the whole stack (fixed).
  std::size_t stack_in_use() const noexcept;

  void reset() noexcept {
    if (control_ != nullptr) detail::destroy_fiber(std::exchange(control_, nullptr));
  }

 private:
  // How to run, destroy and place a body of type std::decay_t<F>: moved in
  // when the constructor got an rvalue, copied when it got an lvalue.
  template <class F>
  static const detail::fiber_body_ops& ops_for() noexcept {
    using B = std::decay_t<F>;
    static constexpr detail::fiber_body_ops ops{
        [](void* body) { std::invoke(*static_cast<B*>(body)); },
        [](void* body) noexcept { static_cast<B*>(body)->~B(); },
        [](void* where, void* source) -> void* {
          return ::new (where) B(std::forward<F>(*static_cast<std::remove_reference_t<F>*>(source)));
        },
        sizeof(B), alignof(B)};
    return ops;
  }

  friend void this_fiber::switch_to(fiber& target);
  friend struct detail::fiber_access;
  detail::fiber_control* control_ = nullptr;
};

namespace this_fiber {
// Suspends the running fiber; its resume() returns. Throws fiber_error
// outside any fiber.
inline void yield() { detail::yield_landed(detail::yield_switch()); }
// True while a fiber runs on this thread.
COSPACE_API bool active() noexcept;
COSPACE_API std::uint64_t id() noexcept;          // 0 outside any fiber
COSPACE_API std::string_view name() noexcept;     // empty outside any fiber
// Gives back the stack pages below the current depth (region fibers).
COSPACE_API void trim_stack();
// The running fiber's region heap: allocations come from the lower part of its
// region when they fit and are all freed when the fiber ends. Outside a
// region fiber: std::pmr::new_delete_resource().
COSPACE_API std::pmr::memory_resource* arena() noexcept;
}  // namespace this_fiber

}  // namespace cospace
