// Making a fiber_context, its entry, its end, and unwinding one whose handle
// is destroyed while it is suspended.
//
// The end of a context: its entry returned the context to continue with (or
// forced_unwind brought back the context that destroyed its handle). It
// cannot release its own stack while running on it, so it switches to that
// context with finish_fiber_context on top, which releases the stack there.
//
// Unwinding: destroy_fiber_context switches to the context with
// throw_forced_unwind on top; the exception leaves through the context's
// pending resume(), unwinds its stack to the entry, which resumes the
// destroyer (carried by the exception) as it ends.
#include <cospace/fiber_context.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <typeinfo>

#include "context/validate.hpp"
#include "fiber/fiber_control.hpp"
#include "switch.hpp"

namespace cospace::detail {

struct forced_unwind_access {
  [[noreturn]] static void raise(fiber_context_record* return_to) { throw forced_unwind(return_to); }
  // The context to return to, taken out so that the exception's end is quiet.
  static fiber_context_record* take(forced_unwind& u) noexcept {
    return record_of(std::exchange(u.return_to_, nullptr));
  }
};

namespace {

// Entries larger than this go to the heap: the record must stay within the
// stack's first usable pages.
constexpr std::size_t max_body_on_stack = 8 * 1024;

std::uintptr_t align_down(std::uintptr_t a, std::size_t alignment) { return a & ~(std::uintptr_t{alignment} - 1); }


void release_control(fiber_context_control* c) noexcept {
  if (c->body_on_heap) ::operator delete(c->body, std::align_val_t{c->ops->alignment});
  on_fiber_destroyed(c->tools);
  fiber_stack stack = c->stack;
  c->~fiber_context_control();  // it lives on the stack: gone before the stack goes
  release_fiber_stack(stack);
}

std::string what_escaped() {
  try {
    throw;
  } catch (const std::exception& e) {
    return std::string(e.what()) + " (" + typeid(e).name() + ")";
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

// Resumes `next` for good as c ends; its stack is released there.
[[noreturn]] void end_with(fiber_context_control* c, fiber_context_record* to) noexcept {
  exception_state* const thread = t_fiber_context_thread;
  if (never_ran(to)) {
    if (fiber_context_backend.needs_stack_below_caller &&
        control_of(to)->stack.top > reinterpret_cast<std::uintptr_t>(fiber_context_backend.stack_pointer())) {
      fatal(describe(c) + " returned " + describe(control_of(to)) +
            ", which cannot start there on the sjlj backend: its stack is not below");
    }
    control_of(to)->first_from = nullptr;  // it is entered with an empty context
  } else if (to->thread != thread) {
    fatal(describe(c) + " returned a fiber_context suspended on another thread; it cannot be resumed here");
  }
  c->exit_to = to;
  leave_for_good(*to, thread);
  fiber_context_backend.ontop(to->context, c, &finish_fiber_context);
  fatal(describe(c) + " was resumed after it ended");
}

// The root of every fiber_context's stack.
void fiber_context_entry(cospace_transfer t) noexcept {
  fiber_context_record* const start = record_of(t);
  fiber_context_control* const c = control_of(start);
  if (!start->arrived) arrive(*start, c->first_from);
  fiber_context_record* const starter = c->first_from;
  if (starter != nullptr) starter->context = t.from;  // adopt(), for the entry's argument
  void* argument = starter;
  fiber_context_record* next = nullptr;
  try {
    next = record_of(c->ops->run(c->body, &argument));
  } catch (forced_unwind& u) {
    next = forced_unwind_access::take(u);
    if (next == nullptr) {
      fatal(describe(c) + " was unwound by a forced_unwind that carries no context to return to "
                          "(a copy: rethrow it with `throw;`, or one thrown by a cospace::fiber)");
    }
  } catch (...) {
    fatal(describe(c) + ": an exception escaped its entry function: " + what_escaped());
  }
  if (next == nullptr) {
    fatal(describe(c) + " returned an empty fiber_context from its entry: there is no context to "
                        "continue with (return the one it was resumed from, or another)");
  }
  // An argument the entry neither kept nor consumed is destroyed, as a
  // temporary would be: the context it names is unwound.
  if (argument != nullptr) destroy_fiber_context(argument);
  c->ops->destroy(c->body);
  end_with(c, next);
}

// On top of a suspended context whose handle is being destroyed.
cospace_transfer throw_forced_unwind(cospace_transfer t) {
  fiber_context_record* const from = record_of(t);
  from->context = t.from;
  arrive_on_top(*from->target, from);
  forced_unwind_access::raise(from);
}

}  // namespace

std::string describe(const fiber_context_control* c) {
  if (c == nullptr || c->name.empty()) return "a fiber_context";
  return "fiber_context '" + std::string(c->name) + "'";
}

cospace_transfer finish_fiber_context(cospace_transfer t) noexcept {
  auto* const c = static_cast<fiber_context_control*>(t.data);
  fiber_context_record* const to = c->exit_to;
  arrive_on_top(*to, nullptr);
  release_control(c);
  // A context that never ran is entered now: its first transfer carries its
  // own record (record.hpp); a suspended one's resume() returns empty.
  return {nullptr, never_ran(to) ? to : nullptr};
}

void* create_fiber_context(const fiber_options& options, const fiber_context_body_ops& ops,
                                      void* source) {
  check_fiber_options(options);
  // A fiber_context keeps its record at the top of its own stack and switches
  // with plain jumps; a sliced stack needs the slice jumps of src/slice.
  if (options.stack == stack_kind::sliced) {
    throw fiber_error("cospace: fiber_context does not run on stack_kind::sliced stacks yet "
                      "(use cospace::fiber for sliced fibers)");
  }
  fiber_stack stack = acquire_fiber_stack(options, current_region());

  std::uintptr_t cursor = align_down(stack.top - sizeof(fiber_context_control), alignof(fiber_context_control));
  auto* c = ::new (reinterpret_cast<void*>(cursor)) fiber_context_control();
  c->stack = stack;
  c->ops = &ops;
  if (!options.name.empty()) {
    cursor -= options.name.size() + 1;
    char* name = reinterpret_cast<char*>(cursor);
    std::memcpy(name, options.name.data(), options.name.size());
    name[options.name.size()] = '\0';
    c->name = std::string_view(name, options.name.size());
    if (stack.owner_region != nullptr) stack.owner_region->name = name;  // overflow diagnostics
  }
  const bool body_on_stack = ops.size <= max_body_on_stack;
  cospace_context context = nullptr;
  try {
    if (body_on_stack) {
      cursor = align_down(cursor - ops.size, ops.alignment);
      c->body = ops.construct(reinterpret_cast<void*>(cursor), source);
    } else {
      void* memory = ::operator new(ops.size, std::align_val_t{ops.alignment});
      try {
        c->body = ops.construct(memory, source);
      } catch (...) {
        ::operator delete(memory, std::align_val_t{ops.alignment});
        throw;
      }
      c->body_on_heap = true;
    }
    const std::uintptr_t top = align_down(cursor, context::stack_alignment);
    const cospace_status status = context::validate(fiber_context_backend, reinterpret_cast<void*>(top),
                                                    top - stack.bottom, &fiber_context_entry);
    if (status != COSPACE_OK) {
      throw fiber_error(std::string("cospace: cannot start a fiber_context on this stack: ") +
                        cospace_status_message(status));
    }
    context = fiber_context_backend.make(reinterpret_cast<void*>(top), top - stack.bottom, &fiber_context_entry);
    on_fiber_created(c->tools, stack.bottom, top);
  } catch (...) {
    if (c->body != nullptr) {
      ops.destroy(c->body);
      if (c->body_on_heap) ::operator delete(c->body, std::align_val_t{ops.alignment});
    }
    c->~fiber_context_control();
    release_fiber_stack(stack);
    throw;
  }
  c->start.context = context;
  c->start.running_region = stack.owner_region;
  c->start.tools = own_side(c->tools);  // its stack bounds (ASan) and its fiber (TSan)
  return &c->start;
}

void destroy_fiber_context(void* handle) noexcept {
  fiber_context_record* const to = record_of(handle);
  if (never_ran(to)) {
    fiber_context_control* const c = control_of(to);
    c->ops->destroy(c->body);
    release_control(c);
    return;
  }
  exception_state* const thread = t_fiber_context_thread;
  if (thread == nullptr || to->thread != thread) {
    fatal("a fiber_context was destroyed on another thread than the one it was suspended on; it "
          "can only be unwound on its own thread");
  }
  fiber_context_record_storage storage;
  fiber_context_record* const me = record_of(&storage);
  me->target = to;
  leave(*me, *to, thread);
  // It returns here only by ending (finish_fiber_context): nothing else holds
  // this context's handle but the forced_unwind in flight.
  complete(*me, fiber_context_backend.ontop(to->context, me, &throw_forced_unwind));
}

}  // namespace cospace::detail

namespace cospace {

forced_unwind::~forced_unwind() {
  if (return_to_ != nullptr) {
    detail::fatal(
        "a cospace::forced_unwind unwinding a fiber_context was caught and not rethrown (a catch "
        "that swallows it, or `throw copy;` instead of `throw;`), or it reached the root of a "
        "stack that is not a fiber_context's own (a thread's stack or a cospace::fiber, whose "
        "fiber_context handle was destroyed): the context that destroyed the handle can never "
        "continue");
  }
}

}  // namespace cospace
