// What cospace::fiber_context keeps, and where.
//
// A handle is a pointer to a record: what the library saved for a suspended
// context, the context itself (the context layer's one-shot handle, its stack
// pointer on the asm backend) first. Every context saves its own state into
// a record in the frame of the resume() that suspends it
// (fiber_context_record_storage in the public header), so a switch allocates
// nothing and a context that is not a fiber_context's own (a thread's stack,
// a cospace::fiber) needs no registration. A context that never ran has its
// record at the top of its stack, in its control block:
//
//   stack top -> +--------------------------+
//                | control (start record    |  start.thread == null: never ran
//                |  first, then the rest)   |
//                | name (copied)            |
//                | entry (callable)         |  or on the heap, if over 8 KiB
//                +--------------------------+ <- context top (16-aligned)
//                | entry's frames           |
//                v                          v
//
// The switch (switch.cpp) is done entirely by the leaving side: it saves the
// thread's state into its own record and loads the target's from the
// target's record, then jumps, passing its record; nothing runs after the
// jump on the arriving side (outside ASan builds) but adopt() in the public
// header, which writes the leaving side's context (known only once it has
// jumped) into that record. So the jump returns straight into the resumed
// context's resume() with no `ret` in between, and a handle is one pointer
// (two would be returned through memory, and the compiler reloads such a
// pair with one 16-byte load that cannot forward from two 8-byte stores:
// a stall on every switch).
//
// A fresh context learns who started it from its control block (first_from):
// the first transfer to it always carries its own start record, so its entry
// finds its control block without any per-switch bookkeeping.
#pragma once

#include <cospace/context.h>
#include <cospace/fiber_context.hpp>

#include <cstddef>

#include "fiber/exception_state.hpp"
#include "fiber/fiber_stack.hpp"
#include "fiber/sanitizer_hooks.hpp"
#include "space/region.hpp"

namespace cospace::detail {

struct fiber_context_record {
  cospace_context context;                  // the suspended context (words[0] of the storage)
  region* running_region;                   // for the fault handler: the region it runs on (or null)
  exception_state exceptions;               // its C++ exception state (16-aligned: copied as one 16-byte move)
  const exception_state* thread;            // the thread it was suspended on; null: never ran
  fiber_context_record* target;             // resume_with and destruction: the record switched to
  fiber_context_ontop ontop;                // resume_with: the function and its object
  void* ontop_object;
  sanitizer_side tools;                     // ASan: stack bounds, fake stack; TSan: its fiber
  bool arrived;                             // sanitizer builds: the switch to it was completed on top
};
static_assert(offsetof(fiber_context_record, context) == 0, "adopt() writes words[0]");
static_assert(offsetof(fiber_context_record, exceptions) % 16 == 0);
static_assert(sizeof(fiber_context_record) <= sizeof(fiber_context_record_storage));
static_assert(alignof(fiber_context_record) <= alignof(fiber_context_record_storage));

inline fiber_context_record* record_of(fiber_context_record_storage* storage) noexcept {
  return reinterpret_cast<fiber_context_record*>(storage);
}
inline fiber_context_record* record_of(const cospace_transfer& t) noexcept {
  return static_cast<fiber_context_record*>(t.data);
}
inline fiber_context_record* record_of(void* handle) noexcept { return static_cast<fiber_context_record*>(handle); }

// What a switch to `r` hands to the pending resume() there (adopt()).
inline cospace_transfer transfer_of(fiber_context_record* r) noexcept {
  return {r != nullptr ? r->context : nullptr, r};
}

// A fiber_context's own stack: its record when it has never run, and what it
// needs to run and to end.
struct fiber_context_control {
  fiber_context_record start{};                // must stay first (control_of)
  fiber_context_record* first_from = nullptr;  // the record of whoever started it
  fiber_context_record* exit_to = nullptr;     // as it ends: the context it resumes
  const fiber_context_body_ops* ops = nullptr;
  void* body = nullptr;
  bool body_on_heap = false;
  std::string_view name;
  fiber_stack stack;
  sanitizer_fiber tools;                       // Valgrind registration, TSan fiber
};

inline fiber_context_control* control_of(fiber_context_record* start) noexcept {
  return reinterpret_cast<fiber_context_control*>(start);
}

inline bool never_ran(const fiber_context_record* r) noexcept { return r->thread == nullptr; }

// "fiber_context 'parser'" or "a fiber_context".
std::string describe(const fiber_context_control* c);

// lifetime.cpp: the end of a fiber_context, on the context it resumes.
cospace_transfer finish_fiber_context(cospace_transfer t) noexcept;

}  // namespace cospace::detail
