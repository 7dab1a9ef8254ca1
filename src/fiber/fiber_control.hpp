// The record of one fiber. It lives at the top of the fiber's own stack,
// above the first frame, together with the fiber's name and its body, so
// that making a fiber allocates nothing beyond its stack:
//
//   stack top -> +------------------+
//                | fiber_control    |
//                | name (copied)    |
//                | body (callable)  |
//                +------------------+ <- the context's first frame goes below (16-aligned)
//                | entry's frames   |
//                v                  v
//
// A sliced fiber's stack is shared, so its record is one heap block
// instead, packed from the block's start: record, slice, body, name
// (lifetime.cpp).
#pragma once

#include <cospace/context.h>
#include <cospace/fiber.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string_view>

#include "exception_state.hpp"
#include "fiber_stack.hpp"
#include "sanitizer_hooks.hpp"
#include "space/arena_resource.hpp"

namespace cospace::detail {

class fiber_locals;
struct fiber_extras;

enum class fiber_state : std::uint8_t {
  created,    // made, never resumed
  running,    // on some thread's stack right now
  suspended,  // yielded
  done,       // its body returned or threw
};

// A fiber's name: its copied text, NUL-terminated, or null. 8 bytes instead
// of a string_view's 16 (every byte of a record counts, see below); the
// length is counted when asked, which only diagnostics and fiber::name() do.
// (A name with a NUL inside ends there, as it already did in the overflow
// diagnostic, which reads the region's copy of the same text.)
// tools/gdb/cospace.py reads `text_`.
class fiber_name {
 public:
  bool empty() const noexcept { return text_ == nullptr; }
  const char* data() const noexcept { return text_ != nullptr ? text_ : ""; }
  std::size_t size() const noexcept { return text_ != nullptr ? std::strlen(text_) : 0; }
  operator std::string_view() const noexcept { return text_ != nullptr ? std::string_view(text_) : std::string_view(); }
  // `text` must be NUL-terminated where it ends (names are copied so); a
  // template so that `name = {}` clears the name unambiguously.
  template <class T>
    requires std::same_as<T, std::string_view>
  fiber_name& operator=(T text) noexcept {
    text_ = text.empty() ? nullptr : text.data();
    return *this;
  }

 private:
  const char* text_ = nullptr;
};

// Every byte here is part of each suspended sliced fiber's resident memory
// (its record is on the heap): keep it small, flags together.
class fiber_control {
 public:
  cospace_context context = nullptr;  // the fiber, while it is not running
  cospace_context resumer = nullptr;  // whom it yields to, while it runs
  fiber_control* outer = nullptr;     // the fiber that resumed it (null: a thread's own stack)
  exception_state exceptions{};       // see exception_state.hpp
  fiber_state state = fiber_state::created;
  bool unwind_requested = false;      // the handle was destroyed while suspended
  bool unwound = false;               // forced_unwind reached the entry, as it must
  bool body_on_heap = false;          // `body` is a heap block of its own (a large callable)
  sanitizer_fiber tools;              // here, next to the flags: in a plain build it is 4 bytes
  const fiber_body_ops* ops = nullptr;
  void* body = nullptr;               // the callable: in the record, or on the heap if large
  fiber_stack stack;                  // sliced fibers: the record is the heap block's start
  std::uint64_t id = 0;
  fiber_name name;                    // the copied name (tools/gdb/cospace.py reads it)
  // What the body threw, for resume() to rethrow. In the record, not in the
  // extras: keeping it must not allocate (the exception may be bad_alloc).
  std::exception_ptr escaped;
  fiber_extras* extras = nullptr;     // made on first need (see fiber_extras); freed with the record
};

// What few fibers need, kept out of the record (one pointer instead of
// two in every record): made by the first fiber_local or arena() of the
// fiber, freed with its record.
struct fiber_extras {
  arena_resource* arena = nullptr;    // made on first use of this_fiber::arena()
  class fiber_locals* locals = nullptr;  // made on first use of a fiber_local
};

// f's extras, made now if it has none; null when memory is short.
fiber_extras* extras_of(fiber_control* f) noexcept;

// Ends the fiber-locals, then the arena (fiber-locals' destructors may use
// it), as a fiber finishes or is discarded.
void end_locals_and_arena(fiber_control* f) noexcept;

// The fiber running on this thread (null on a thread's own stack). Not
// inlined (as the scheduler's current_task()): a fiber may come back on
// another thread, and each call must compute the thread-local address
// afresh, which link-time optimisation could otherwise cache across a switch.
[[gnu::noinline]] fiber_control* current_fiber() noexcept;

// A sliced fiber runs only on the thread that made it (its shared stack is
// that thread's, and may hold another of its fibers' bytes right now).
bool foreign_sliced(const fiber_control* f) noexcept;
inline constexpr const char* moved_sliced =
    "is a sliced fiber of another thread; sliced fibers cannot move between threads "
    "(their stack is shared by that thread's fibers)";

// "fiber 'parser' (id 7)" or "fiber id 7".
std::string describe(const fiber_control* f);

[[noreturn]] void fatal(const std::string& message) noexcept;

}  // namespace cospace::detail
