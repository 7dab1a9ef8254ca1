// slice_jump and the copier (see slice_jump.hpp for the picture).
#include "slice_jump.hpp"

#include <cstdio>
#include <cstdlib>
#include <new>

#include "context/backend.hpp"
#include "context/validate.hpp"
#include "space/fault_handler.hpp"
#include "space/sanitizer.hpp"
#include "thread_slicing.hpp"

namespace cospace::detail {
namespace {

const context::backend& backend = context::selected;

// What the destination's side of a slice_jump needs. It lives on a stack
// that is not the destination's: the caller's (direct case) or the copier's
// (copier case); either stays intact until `arrive` has copied it out.
struct arrival {
  slice* from;                    // record its stop from the incoming handle (direct case)
  cospace_context from_handle;    // the caller's handle (copier case), else null
  void* data;
  cospace_ontop_function ontop;
  bool from_copier;
};

// Runs on the destination's stack, below its restored stack pointer.
cospace_transfer arrive(cospace_transfer t) {
  const arrival a = *static_cast<const arrival*>(t.data);
  cospace_transfer result{t.from, a.data};
  if (a.from_copier) {
    copier_context() = t.from;  // the copier waits here for its next request
    result.from = a.from_handle;
  } else if (a.from != nullptr) {
    slice_stopped_at(*a.from, t.from);
  }
  return a.ontop != nullptr ? a.ontop(result) : result;
}

[[noreturn]] void slicing_out_of_memory() noexcept {
  std::fputs("cospace: out of memory while saving a sliced fiber's stack to the heap\n", stderr);
  std::abort();
}

cospace_context start_fresh(slice& s, cospace_context_entry entry) noexcept {
  const std::uintptr_t bottom = s.stack->bottom != 0 ? s.stack->bottom : s.base - (1u << 20);
  // The fresh frame lands just below the base, where make_resident has saved
  // whatever was live, but whose shadow state is still that of the code that
  // ran there last: on the thread's own stack, Valgrind holds what lay below
  // a stack pointer that moved up as inaccessible (the writes happen from the
  // copier's stack). The backend's min_stack covers its fresh frame.
  forget_stack_poison(s.base - backend.min_stack, s.base);
  return backend.make(reinterpret_cast<void*>(s.base), s.base - bottom, entry);
}

cospace_transfer enter(const slice_jump_args& args, arrival& a) {
  if (args.to_slice != nullptr) {
    try {
      make_resident(*args.to_slice);
    } catch (const std::bad_alloc&) {
      slicing_out_of_memory();
    }
  }
  const cospace_context to = args.to != nullptr ? args.to : start_fresh(*args.to_slice, args.fresh_entry);
  return backend.ontop(to, &a, &arrive);
}

// The copier's context: it is primed once (its first visit returns at once),
// then serves one request per visit, each ending with a jump on top of the
// request's destination. The request is copied out before anything is
// restored, because it lives on the very stack being rewritten.
void copier_main(cospace_transfer t) noexcept {
  t = backend.jump(t.from, nullptr);
  region* const own_region = copier_region();
  for (;;) {
    const slice_jump_args request = *static_cast<const slice_jump_args*>(t.data);
    if (request.from != nullptr) slice_stopped_at(*request.from, t.from);
    arrival a{nullptr, t.from, request.data, request.ontop, true};
    // A fault on this stack is the copier's to grow; the destination's
    // region is current again before the destination runs.
    region* const destination_region = current_region();
    set_current_region(own_region);
    try {
      make_resident(*request.to_slice);
    } catch (const std::bad_alloc&) {
      slicing_out_of_memory();
    }
    set_current_region(destination_region);
    const cospace_context to = request.to != nullptr ? request.to : start_fresh(*request.to_slice, request.fresh_entry);
    t = backend.ontop(to, &a, &arrive);
  }
}

}  // namespace

cospace_transfer slice_jump(const slice_jump_args& args) {
  const bool on_destination_stack =
      args.to_slice != nullptr &&
      args.to_slice->stack->contains(reinterpret_cast<std::uintptr_t>(backend.stack_pointer()));
  // The sjlj backend enters a fresh stack only from above it: the copier is.
  const bool fresh_needs_copier = args.to == nullptr && backend.needs_stack_below_caller;
  if (!on_destination_stack && !fresh_needs_copier) {
    arrival a{args.from, nullptr, args.data, args.ontop, false};
    return enter(args, a);
  }
  return backend.jump(copier_context(), const_cast<slice_jump_args*>(&args));
}

cospace_context make_copier_context(void* top, std::size_t size) {
  const cospace_status status = context::validate(backend, top, size, &copier_main);
  if (status != COSPACE_OK) return nullptr;
  const cospace_context fresh = backend.make(top, size, &copier_main);
  return backend.jump(fresh, nullptr).from;  // primed: waiting for its first request
}

}  // namespace cospace::detail
