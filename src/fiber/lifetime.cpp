// Making and destroying fibers, and the fiber handle's queries.
#include <cospace/fiber.hpp>
#include <cospace/space.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "context/backend.hpp"
#include "context/validate.hpp"
#include "fiber_control.hpp"
#include "fiber_locals.hpp"
#include "reuse.hpp"
#include "sliced_registry.hpp"
#include "space/fault_handler.hpp"
#include "slice/slice.hpp"
#include "slice/thread_slicing.hpp"
#include "space/space_impl.hpp"

namespace cospace::detail {

void fiber_entry(cospace_transfer t) noexcept;
void unwind_fiber(fiber_control* f) noexcept;

namespace {

// Bodies larger than this live on the heap rather than at the top of the
// fiber's stack, which must stay within the stack's first usable pages.
constexpr std::size_t max_record_on_stack = 8 * 1024;

// Ids: a process-wide counter, taken by each thread in blocks so that making
// a fiber needs no atomic operation (fresh_fiber_id(), reuse.hpp).
std::atomic<std::uint64_t> g_next_id_block{1};
constexpr std::uint64_t id_block = 1024;

std::uintptr_t align_down(std::uintptr_t a, std::size_t alignment) { return a & ~(std::uintptr_t{alignment} - 1); }


}  // namespace

[[gnu::tls_model("initial-exec")]] constinit thread_local std::uint64_t t_next_fiber_id = 0;
[[gnu::tls_model("initial-exec")]] constinit thread_local std::uint64_t t_fiber_id_limit = 0;

std::uint64_t next_fiber_id_block() noexcept {
  const std::uint64_t first = g_next_id_block.fetch_add(id_block, std::memory_order_relaxed);
  t_next_fiber_id = first + 1;
  t_fiber_id_limit = first + id_block;
  return first;
}

std::string describe(const fiber_control* f) {
  if (f == nullptr) return "an empty fiber";
  char text[max_fiber_name + 64];
  const auto id = static_cast<unsigned long long>(f->id);
  if (!f->name.empty())
    std::snprintf(text, sizeof text, "fiber '%.*s' (id %llu)", static_cast<int>(f->name.size()), f->name.data(), id);
  else
    std::snprintf(text, sizeof text, "fiber id %llu", id);
  return text;
}

void fatal(const std::string& message) noexcept {
  std::fprintf(stderr, "cospace: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

namespace {

// A sliced fiber's record cannot sit on its stack (the stack is shared), so
// it goes in one heap block with the fiber's body, name and slice, packed
// from the block's start (the block is the record: no pointer to it is
// kept), sized exactly, since it is most of a suspended fiber's memory. The
// slice comes last: its inline area follows it, room for as many saved
// bytes as the last fiber of the same body saved (slice.hpp), so that a
// suspended fiber is usually this one block:
//
//   block -> | fiber_control | body (aligned) | name NUL | slice | inline area |
struct heap_layout {
  std::size_t body_at = 0, name_at = 0, slice_at = 0, size = 0;
};

std::size_t align_up(std::size_t n, std::size_t alignment) { return (n + alignment - 1) & ~(alignment - 1); }

heap_layout layout_heap_record(const fiber_options& options, const fiber_body_ops& ops, bool body_inside,
                               inline_plan plan) {
  static_assert(alignof(fiber_control) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__ &&
                alignof(slice) <= alignof(fiber_control));
  heap_layout l;
  l.body_at = align_up(sizeof(fiber_control), body_inside ? ops.alignment : 1);
  l.name_at = l.body_at + (body_inside ? ops.size : 0);
  l.slice_at = align_up(l.name_at + (options.name.empty() ? 0 : options.name.size() + 1), alignof(slice));
  l.size = l.slice_at + sizeof(slice) + plan.bytes();
  return l;
}

// Starts a context for `f` at the top of its own stack, below its record.
// Sliced fibers start when they first run (their stack is shared: making a
// context there now would overwrite a slice): slice_jump does it then.
void make_context(fiber_control* f, std::uintptr_t cursor) {
  if (f->stack.kind == stack_kind::sliced) {
    on_fiber_created(f->tools, f->stack.bottom, f->stack.shared->stack.top);
    return;
  }
  const std::uintptr_t context_top = align_down(cursor, context::stack_alignment);
  const cospace_status status = context::validate(context::selected, reinterpret_cast<void*>(context_top),
                                                  context_top - f->stack.bottom, &fiber_entry);
  if (status != COSPACE_OK) {
    throw fiber_error(std::string("cospace: cannot start a fiber on this stack: ") +
                      cospace_status_message(status));
  }
  f->context = context::selected.make(reinterpret_cast<void*>(context_top), context_top - f->stack.bottom,
                                      &fiber_entry);
  on_fiber_created(f->tools, f->stack.bottom, context_top);
}

}  // namespace

fiber_control* create_fiber(const fiber_options& options, const fiber_body_ops& ops, void* source) {
  check_fiber_options(options);
  fiber_stack stack = acquire_fiber_stack(options, current_region());
  const bool sliced = stack.kind == stack_kind::sliced;
  // In the record: on a stack, up to max_record_on_stack; on the heap (a
  // sliced fiber's record), any callable malloc's alignment can place.
  const bool body_in_record =
      ops.size <= max_record_on_stack && (!sliced || ops.alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  heap_layout layout;
  inline_plan plan;
  void* block = nullptr;
  if (sliced) {
    plan = plan_inline(&ops);
    layout = layout_heap_record(options, ops, body_in_record, plan);
    try {
      block = ::operator new(layout.size);
    } catch (...) {
      release_fiber_stack(stack);
      throw;
    }
  }
  const auto block_at = [block](std::size_t offset) { return reinterpret_cast<std::uintptr_t>(block) + offset; };

  // The record at the top of the stack (control, then name, then body
  // downwards), or at the start of its heap block (see heap_layout).
  std::uintptr_t cursor =
      sliced ? block_at(0) : align_down(stack.top - sizeof(fiber_control), alignof(fiber_control));
  // Default-initialised, not value-initialised (`fiber_control()`): every
  // member has its own initialiser, so this sets each field once instead of
  // zeroing the whole record first and then setting it again.
  auto* f = ::new (reinterpret_cast<void*>(cursor)) fiber_control;
  f->stack = stack;
  f->ops = &ops;
  f->id = fresh_fiber_id();
  if (sliced) {
    f->stack.sliced = ::new (reinterpret_cast<void*>(block_at(layout.slice_at))) slice();
    adopt(*f->stack.sliced, plan);
    f->stack.sliced->stack = &stack.shared->stack;
    f->stack.sliced->base = align_down(stack.shared->stack.top, context::stack_alignment);
    f->stack.sliced->depth = 0;  // nothing live yet
  }
  if (!options.name.empty()) {
    if (!sliced) cursor -= options.name.size() + 1;
    char* name = reinterpret_cast<char*>(sliced ? block_at(layout.name_at) : cursor);
    std::memcpy(name, options.name.data(), options.name.size());
    name[options.name.size()] = '\0';
    f->name = std::string_view(name, options.name.size());
  }
  if (stack.owner_region != nullptr && stack.kind == stack_kind::region) {
    stack.owner_region->name = f->name.empty() ? nullptr : f->name.data();
    stack.owner_region->id = f->id;
  }
  try {
    if (body_in_record) {
      cursor = sliced ? block_at(layout.body_at) : align_down(cursor - ops.size, ops.alignment);
      f->body = ops.construct(reinterpret_cast<void*>(cursor), source);
    } else {
      void* memory = ::operator new(ops.size, std::align_val_t{ops.alignment});
      try {
        f->body = ops.construct(memory, source);
      } catch (...) {
        ::operator delete(memory, std::align_val_t{ops.alignment});
        throw;
      }
    }
    make_context(f, cursor);
  } catch (...) {
    if (f->body != nullptr) {
      ops.destroy(f->body);
      if (!body_in_record) ::operator delete(f->body, std::align_val_t{ops.alignment});
    }
    f->~fiber_control();
    if (block != nullptr) ::operator delete(block);
    release_fiber_stack(stack);
    throw;
  }
  f->body_on_heap = !body_in_record;
  if (sliced) register_sliced(f);  // for debuggers (sliced_registry.hpp)
  return f;
}

namespace {

// The body has been destroyed already (or never made to run: see callers);
// its memory goes here.
void release_record(fiber_control* f) noexcept {
  if (f->body_on_heap) ::operator delete(f->body, std::align_val_t{f->ops->alignment});
  on_fiber_destroyed(f->tools);
  fiber_stack stack = f->stack;
  const bool sliced = stack.kind == stack_kind::sliced;  // the record is its heap block
  if (stack.sliced != nullptr) drop_slice(*stack.sliced);
  delete f->extras;  // locals and arena have ended by now
  if (sliced) unregister_sliced(f);
  f->~fiber_control();  // the record lives on the stack: destroy it before the stack goes
  if (sliced) ::operator delete(static_cast<void*>(f));
  release_fiber_stack(stack);
}



}  // namespace

void discard_fiber(fiber_control* f) noexcept {
  if (f->state == fiber_state::suspended && foreign_sliced(f)) fatal(describe(f) + " " + moved_sliced);
  // The C API's destroy: a suspended C fiber has nothing to unwind (and C
  // frames may have no unwind tables), so its stack is simply released.
  if (f->state == fiber_state::created) f->ops->destroy(f->body);
  if (f->state == fiber_state::suspended) {
    f->ops->destroy(f->body);
    end_locals_and_arena(f);
  }
  release_record(f);
}

void destroy_fiber(fiber_control* f) noexcept {
  switch (f->state) {
    case fiber_state::running:
      fatal(describe(f) + " was destroyed while it is running; destroy a fiber only when it has "
                          "yielded or finished");
    case fiber_state::suspended:
      if (foreign_sliced(f)) fatal(describe(f) + " was destroyed while suspended, but it " + moved_sliced);
      unwind_fiber(f);
      break;
    case fiber_state::created:
      f->ops->destroy(f->body);
      break;
    case fiber_state::done:
      break;
  }
  release_record(f);
}

}  // namespace cospace::detail

namespace cospace {

const char* to_string(stack_kind kind) noexcept {
  switch (kind) {
    case stack_kind::region: return "region";
    case stack_kind::sliced: return "sliced";
    case stack_kind::fixed: return "fixed";
  }
  return "unknown";
}

bool fiber::done() const noexcept {
  return control_ != nullptr && control_->state == detail::fiber_state::done;
}

std::uint64_t fiber::id() const noexcept { return control_ != nullptr ? control_->id : 0; }

std::string_view fiber::name() const noexcept { return control_ != nullptr ? control_->name : std::string_view{}; }

stack_kind fiber::kind() const noexcept {
  return control_ != nullptr ? control_->stack.kind : stack_kind::region;
}

std::size_t fiber::stack_in_use() const noexcept {
  if (control_ == nullptr) return 0;
  const detail::fiber_stack& s = control_->stack;
  if (s.sliced != nullptr && control_->state != detail::fiber_state::running)
    return static_cast<std::size_t>(s.sliced->depth > 0 ? s.sliced->depth : 0);
  if (s.owner_region != nullptr) return s.owner_region->stack_depth();
  return s.top - s.bottom;
}

}  // namespace cospace
