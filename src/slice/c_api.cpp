// cospace/slice.h: the runtime primitives over the slicing core.
//
// Every slice of a thread belongs to that thread's one stack domain
// (thread_slicing.hpp). A switch is a slice_jump from the running slice to
// the target, always through the copier, since the caller runs on the very
// stack being rewritten. Whoever jumps hands over itself (its cospace_slice)
// as the data, so the slice that wakes up can record the leaving one's
// context handle: the same "left" protocol as fibers.
#include <cospace/slice.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "context/backend.hpp"
#include "context/validate.hpp"
#include "fiber/c_errors.hpp"
#include "slice.hpp"
#include "slice_jump.hpp"
#include "thread_slicing.hpp"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>

#include <atomic>
#define COSPACE_SLICE_TSAN 1
#else
#define COSPACE_SLICE_TSAN 0
#endif

using cospace::detail::c_fail;
using cospace::detail::c_succeed;

// `destroyed`: cospace_slice_destroy freed the slice's bytes, but a slice
// still returns to it, so its record stays until the last such one lets go
// (see let_go).
enum class slice_state : std::uint8_t { fresh, running, suspended, finished, destroyed };

#if COSPACE_SLICE_TSAN
namespace {
// ThreadSanitizer has room for 8,128 threads and fibers in all and kills the
// process past that (it cannot refuse a __tsan_create_fiber): slices are
// refused before, leaving room for threads and region fibers.
constexpr int tsan_slice_limit = 7000;
std::atomic<int> g_tsan_slices{0};

bool reserve_tsan_fiber() noexcept {
  if (g_tsan_slices.fetch_add(1, std::memory_order_relaxed) < tsan_slice_limit) return true;
  g_tsan_slices.fetch_sub(1, std::memory_order_relaxed);
  return false;
}
}  // namespace
#endif

// 56 bytes (64 under ThreadSanitizer), and in the same heap block the slice's inline area (as much as
// the last slice of the same function saved: slice.hpp), so that a
// suspended tasklet is usually one malloc chunk. The context of a suspended
// slice is not stored: it is where its slice stops (slice_stopped_at); the
// state and the attached flag live in the slice's owner byte; the function
// and its argument, needed only to start, are kept in the inline area
// until then (nothing is saved there before the slice first runs), which
// is why a slice made by cospace_slice_create has at least 16 bytes of it.
struct cospace_slice {
  // The slice that last switched to this one (a finished one's return is no
  // switch); null for an attached slice, which has no function to return.
  cospace_slice* returns_to = nullptr;
#if COSPACE_SLICE_TSAN
  // ThreadSanitizer's fiber for this slice (the thread's own for an attached
  // slice): each slice gets its own shadow call stack. Without it TSan kept
  // one per thread, holding the frames of every suspended slice, and
  // overflowed its 65,536 entries (examples/tiny_runtime with ~3,000
  // tasklets, fewer with one more frame per switch).
  void* tsan_fiber = nullptr;
#endif
  cospace::detail::slice bytes;         // last: its inline area follows. Its stack is the thread's stack domain

  struct start_request {
    cospace_slice_function function;
    void* arg;
  };
  static constexpr std::uint8_t attached_bit = 0x80;  // in the owner byte, above the state

  slice_state state() const noexcept { return static_cast<slice_state>(bytes.owner_byte & ~attached_bit); }
  void set_state(slice_state s) noexcept {
    bytes.owner_byte = static_cast<std::uint8_t>((bytes.owner_byte & attached_bit) | static_cast<std::uint8_t>(s));
  }
  bool attached() const noexcept { return (bytes.owner_byte & attached_bit) != 0; }
  void set_attached() noexcept { bytes.owner_byte |= attached_bit; }
  // How many slices return to this one (in the slice's owner_count): while
  // any does, destroying it frees its bytes but keeps this record (state
  // `destroyed`), so that a slice returning into it finds out instead of
  // reading freed memory.
  std::uint32_t& returners() noexcept { return bytes.owner_count; }
  // Where a suspended slice resumes (the handle slice_stopped_at recorded).
  cospace_context context() const noexcept {
    return reinterpret_cast<cospace_context>(bytes.low() + cospace::context::selected.live_below_handle);
  }
  // Only while the slice is fresh (never run).
  void keep_start(start_request r) noexcept { std::memcpy(bytes.inline_area(), &r, sizeof r); }
  start_request start() noexcept {
    start_request r;
    std::memcpy(&r, bytes.inline_area(), sizeof r);
    return r;
  }
};

namespace {

using namespace cospace::detail;

[[gnu::tls_model("initial-exec")]] constinit thread_local cospace_slice* t_running = nullptr;
// The request of the switch in flight: thread-local rather than in the
// leaving slice's frame, where it would be saved with every suspended slice.
// slice_jump (or the copier) reads it before anything else can switch.
[[gnu::tls_model("initial-exec")]] constinit thread_local slice_jump_args t_request{};

std::uintptr_t align_down(std::uintptr_t a) { return a & ~std::uintptr_t{15}; }

// A cospace_slice with room for `plan`'s inline area after it; null when memory is short.
cospace_slice* new_slice(inline_plan plan) noexcept {
  static_assert(offsetof(cospace_slice, bytes) + sizeof(slice) == sizeof(cospace_slice),
                "the slice's inline area follows the cospace_slice");
  // Every byte is in every suspended tasklet: 56 keeps the malloc chunk at
  // 304 bytes for a 240-byte slice (the count of returners is in the slice).
  static_assert(sizeof(cospace_slice) == (COSPACE_SLICE_TSAN ? 64 : 56), "cospace_slice grew");
  void* memory = ::operator new(sizeof(cospace_slice) + plan.bytes(), std::nothrow);
  if (memory == nullptr) return nullptr;
  auto* s = ::new (memory) cospace_slice;
  adopt(s->bytes, plan);
  s->bytes.stack = &declared_stack_domain();
  return s;
}

void delete_slice(cospace_slice* s) noexcept {
  s->~cospace_slice();
  ::operator delete(static_cast<void*>(s));
}

// One slice returns to `target` no longer: the last one frees a destroyed record.
void let_go(cospace_slice* target) noexcept {
  if (--target->returners() == 0 && target->state() == slice_state::destroyed) [[unlikely]] delete_slice(target);
}

// `s` returns to `target` from now on.
void set_returns_to(cospace_slice* s, cospace_slice* target) noexcept {
  cospace_slice* const old = s->returns_to;
  s->returns_to = target;
  ++target->returners();
  if (old != nullptr) let_go(old);
}

// Called on the slice that wakes up with what its jump (or entry) received.
void woke_up(cospace_transfer t) noexcept {
  auto* left = static_cast<cospace_slice*>(t.data);
  if (left->state() != slice_state::finished) slice_stopped_at(left->bytes, t.from);
}

cospace_transfer jump_to(cospace_slice* from, cospace_slice* to);

[[noreturn, gnu::noinline, gnu::cold]] void function_threw() noexcept {
  std::fputs("cospace: a C++ exception escaped a slice's function (cospace_slice_create); "
             "catch it inside the function\n", stderr);
  std::abort();
}

[[noreturn, gnu::noinline]] void finish_slice(cospace_slice* self) noexcept;

// The root of a slice's stack. Its frame lies under the function's in every
// suspended slice: it holds nothing but the call (the rest is out of line).
[[noreturn]] void slice_entry(cospace_transfer t) noexcept {
  woke_up(t);
  cospace_slice* self = t_running;
  try {
    const cospace_slice::start_request start = self->start();
    start.function(self, start.arg);
  } catch (...) {
    function_threw();
  }
  finish_slice(self);
}

[[noreturn, gnu::noinline, gnu::cold]] void nowhere_to_return(const char* why) noexcept {
  std::fprintf(stderr, "cospace: a slice's function returned into a slice that %s: there is nowhere to go\n", why);
  std::abort();
}

void finish_slice(cospace_slice* self) noexcept {
  self->set_state(slice_state::finished);
  drop_slice(self->bytes);
  cospace_slice* next = self->returns_to;
  if (next == nullptr) nowhere_to_return("does not exist");  // cannot happen: whoever ran it switched to it
  if (next->state() == slice_state::destroyed) nowhere_to_return("was destroyed (cospace_slice_destroy)");
  if (next->state() == slice_state::finished) nowhere_to_return("has finished");
  self->returns_to = nullptr;
  let_go(next);  // not destroyed: this keeps it
  jump_to(self, next);
  std::abort();  // nothing switches to a finished slice
}

cospace_transfer jump_to(cospace_slice* from, cospace_slice* to) {
  const bool fresh = to->state() == slice_state::fresh;
  t_running = to;
  to->set_state(slice_state::running);
  // `to`'s returns-to slice is its caller's business (switch_checked; a
  // finished slice returning is not a switch to be returned to: `to` keeps
  // the slice it returns to, and may destroy `from` at once).
  slice_jump_args& args = t_request;
  args.from = from->state() == slice_state::finished ? nullptr : &from->bytes;
  args.to_slice = &to->bytes;
  args.to = fresh ? nullptr : to->context();
  args.data = from;
  args.fresh_entry = &slice_entry;
  args.ontop = nullptr;
#if COSPACE_SLICE_TSAN
  // From here on TSan counts frames on `to`'s shadow stack: slice_jump's
  // frame opens there and closes when `to` returns from its own slice_jump,
  // so every slice's stack stays balanced switch after switch.
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  return slice_jump(args);
}

// The switch itself, once the arguments are checked, reached by a tail call
// from cospace_slice_switch: only this function's small frame (not the
// checks') stays in the suspended slice's saved bytes, and what follows the
// jump is a tail call too.
[[gnu::noinline]] cospace_status back_in(cospace_slice* self, cospace_transfer t) noexcept {
  woke_up(t);
  t_running = self;
  self->set_state(slice_state::running);
  return c_succeed();
}

[[gnu::noinline]] cospace_status switch_retargeting(cospace_slice* from, cospace_slice* to) noexcept;

[[gnu::noinline]] cospace_status switch_checked(cospace_slice* from, cospace_slice* to) noexcept {
  // `to` returns to `from` from now on (an attached slice returns nowhere).
  // A scheduler's tasklets keep returning to the scheduler, so this is
  // usually one comparison; the update is out of line, so that this frame,
  // which every suspended slice holds, keeps only `from`.
  if (to->returns_to != from && !to->attached()) [[unlikely]] return switch_retargeting(from, to);
  from->set_state(slice_state::suspended);
  const cospace_transfer t = jump_to(from, to);  // throws nothing now that the copier exists
  return back_in(from, t);  // only `from` is kept across the jump
}

// Makes `to` return to `from`, then switches (a tail call: this frame is gone by then).
cospace_status switch_retargeting(cospace_slice* from, cospace_slice* to) noexcept {
  set_returns_to(to, from);
  return switch_checked(from, to);
}

// The thread's first switch makes its copier, which may fail.
[[gnu::noinline, gnu::cold]] cospace_status prepare_copier() noexcept {
  try {
    copier_context();
    return COSPACE_OK;
  } catch (const std::exception& e) {
    return c_fail(COSPACE_ERROR_SYSTEM, e.what());
  }
}

}  // namespace

extern "C" {

[[gnu::noinline]] void* cospace_stack_position(void) COSPACE_NOEXCEPT {
  return cospace::context::selected.stack_pointer();
}

cospace_status cospace_slice_attach(cospace_slice** out, void* base) COSPACE_NOEXCEPT {
  if (out == nullptr || base == nullptr) return c_fail(COSPACE_ERROR_NULL_ARGUMENT, "cospace_slice_attach: NULL argument");
  *out = nullptr;
  const auto here = reinterpret_cast<std::uintptr_t>(cospace::context::selected.stack_pointer());
  if (reinterpret_cast<std::uintptr_t>(base) <= here) {
    return c_fail(COSPACE_ERROR_BAD_OPTION,
                  "cospace_slice_attach: the base must be above the caller's stack position");
  }
  if (t_running != nullptr) {
    return c_fail(COSPACE_ERROR_FIBER_MISUSE,
                  "cospace_slice_attach: this thread already runs a slice; attach once per thread");
  }
  cospace_slice* s = new_slice({});
  if (s == nullptr) return c_fail(COSPACE_ERROR_OUT_OF_MEMORY, "cospace: out of memory");
  s->bytes.base = align_down(reinterpret_cast<std::uintptr_t>(base));
  s->bytes.set_low(here);
  s->set_attached();
  s->set_state(slice_state::running);
#if COSPACE_SLICE_TSAN
  s->tsan_fiber = __tsan_get_current_fiber();
#endif
  try {
    make_resident(s->bytes);  // it is on the stack: record that it owns its bytes
  } catch (...) {
    delete_slice(s);
    return c_fail(COSPACE_ERROR_OUT_OF_MEMORY, "cospace: out of memory");
  }
  t_running = s;
  *out = s;
  return c_succeed();
}

cospace_status cospace_slice_create(cospace_slice** out, void* base, cospace_slice_function fn,
                                    void* arg) COSPACE_NOEXCEPT {
  if (out == nullptr || base == nullptr || fn == nullptr)
    return c_fail(COSPACE_ERROR_NULL_ARGUMENT, "cospace_slice_create: NULL argument");
  *out = nullptr;
  const std::uintptr_t top = align_down(reinterpret_cast<std::uintptr_t>(base));
  try {
    // sjlj starts fresh contexts from the copier, by moving its stack pointer down.
    if (cospace::context::selected.needs_stack_below_caller && top >= copier_bottom()) {
      return c_fail(COSPACE_ERROR_STACK_NOT_BELOW,
                    "cospace_slice_create: on the sjlj backend a slice's base must lie below cospace's "
                    "copier stack; use the asm or ucontext backend for slices on a thread's own stack");
    }
  } catch (const std::exception& e) {
    return c_fail(COSPACE_ERROR_SYSTEM, e.what());
  }
#if COSPACE_SLICE_TSAN
  if (!reserve_tsan_fiber()) {
    return c_fail(COSPACE_ERROR_EXHAUSTED, "cospace_slice_create: ThreadSanitizer's room for fibers is used up ("
                                           "about 8,000 threads and fibers at once; this build keeps 7,000 for slices)");
  }
#endif
  inline_plan plan = plan_inline(reinterpret_cast<const void*>(fn));
  static_assert(sizeof(cospace_slice::start_request) == 16);
  plan.units = std::max<std::uint8_t>(plan.units, 1);  // room for the start request
  cospace_slice* s = new_slice(plan);
  if (s == nullptr) {
#if COSPACE_SLICE_TSAN
    g_tsan_slices.fetch_sub(1, std::memory_order_relaxed);
#endif
    return c_fail(COSPACE_ERROR_OUT_OF_MEMORY, "cospace: out of memory");
  }
  s->bytes.base = top;
  s->bytes.set_low(top);
  s->keep_start({fn, arg});
#if COSPACE_SLICE_TSAN
  s->tsan_fiber = __tsan_create_fiber(0);
#endif
  *out = s;
  return c_succeed();
}

cospace_status cospace_slice_switch(cospace_slice* from, cospace_slice* to) COSPACE_NOEXCEPT {
  if (from == nullptr || to == nullptr) return c_fail(COSPACE_ERROR_NULL_ARGUMENT, "cospace_slice_switch: NULL argument");
  if (from != t_running)
    return c_fail(COSPACE_ERROR_FIBER_MISUSE, "cospace_slice_switch: `from` is not the running slice of this thread");
  if (to == from) return c_fail(COSPACE_ERROR_FIBER_MISUSE, "cospace_slice_switch: a slice cannot switch to itself");
  if (to->bytes.stack != &declared_stack_domain())
    return c_fail(COSPACE_ERROR_FIBER_MISUSE, "cospace_slice_switch: `to` belongs to another thread");
  if (to->state() == slice_state::finished)
    return c_fail(COSPACE_ERROR_FIBER_MISUSE, "cospace_slice_switch: `to` has finished");
  if (copier_region() == nullptr) [[unlikely]] {
    const cospace_status status = prepare_copier();
    if (status != COSPACE_OK) return status;
  }
  return switch_checked(from, to);
}

int cospace_slice_finished(const cospace_slice* slice) COSPACE_NOEXCEPT {
  return slice != nullptr && slice->state() == slice_state::finished;
}

void* cospace_slice_base(const cospace_slice* slice) COSPACE_NOEXCEPT {
  return slice != nullptr ? reinterpret_cast<void*>(slice->bytes.base) : nullptr;
}

size_t cospace_slice_saved_bytes(const cospace_slice* slice) COSPACE_NOEXCEPT {
  return slice != nullptr ? slice->bytes.saved_size : 0;
}

cospace_slice* cospace_slice_running(void) COSPACE_NOEXCEPT { return t_running; }

cospace_status cospace_slice_destroy(cospace_slice* slice) COSPACE_NOEXCEPT {
  if (slice == nullptr) return c_succeed();
  const bool attached = slice->attached();
  if (slice->state() == slice_state::running && !(attached && slice == t_running))
    return c_fail(COSPACE_ERROR_FIBER_MISUSE, "cospace_slice_destroy: the slice is running");
  if (slice->bytes.stack != &declared_stack_domain())
    return c_fail(COSPACE_ERROR_FIBER_MISUSE, "cospace_slice_destroy: the slice belongs to another thread");
  // The running slice's function returns into the slice that last switched
  // to it (an attached slice has no function: the thread's own code runs).
  if (t_running != nullptr && t_running != slice && !t_running->attached() && t_running->returns_to == slice) {
    return c_fail(COSPACE_ERROR_FIBER_MISUSE, "cospace_slice_destroy: the running slice returns to this one when "
                                              "its function ends (switch back to it, or let it finish, first)");
  }
  if (slice == t_running) t_running = nullptr;  // the running code detaches
  drop_slice(slice->bytes);
#if COSPACE_SLICE_TSAN
  if (!attached) {
    __tsan_destroy_fiber(slice->tsan_fiber);
    g_tsan_slices.fetch_sub(1, std::memory_order_relaxed);
  }
#endif
  cospace_slice* const returns_to = slice->returns_to;
  // Slices that return to this one keep its record (its bytes are gone):
  // the last of them frees it, and one returning into it is reported.
  if (slice->returners() != 0) {
    slice->set_state(slice_state::destroyed);
    slice->returns_to = nullptr;
  } else {
    delete_slice(slice);
  }
  if (returns_to != nullptr) let_go(returns_to);
  return c_succeed();
}

}  // extern "C"
