// The sjlj backend: portable context switching with _setjmp/_longjmp only.
//
// Switching between two suspended contexts is the textbook pair: save ours
// with _setjmp, _longjmp to theirs. The hard part is *entering* a fresh stack,
// which setjmp cannot do. We do it the way the design note describes: the
// first jump to a fresh context moves its own stack pointer down with one
// alloca until it lands just below the fresh stack's top, then calls the
// entry from there.
//
//     jumper's stack                 (anything: heap, other stacks)          fresh stack
//   | switch_to frame |  enter_fresh: alloca(sp - landing)  ...  | start() -> entry ... | record |
//   ^ sp                                                          ^ landing              ^ top
//
// This holds only when the fresh stack lies entirely *below* the stack
// pointer of whoever first jumps to it: true for any stack made from the main
// thread's stack (mmap places memory below it) and for stacks carved below
// the current one (nested regions). cospace_context_create refuses a stack
// whose top is above the caller's stack pointer (COSPACE_ERROR_STACK_NOT_BELOW);
// if a context made elsewhere is first entered from a lower stack, the jump
// prints a diagnostic and aborts.
//
// Known traps, handled in CMake for this file alone: -fstack-protector and
// -fstack-clash-protection would touch the gap the alloca spans,
// _FORTIFY_SOURCE turns longjmp into __longjmp_chk (which aborts when the
// target is on another stack), and AddressSanitizer would poison the gap.
// _setjmp (not setjmp) does not save the signal mask, so no switch makes a
// system call. glibc mangles the pointers in jmp_buf, so a jmp_buf is never
// built by hand: fresh contexts have none until they first suspend.
//
// The floating-point control modes are callee-saved in every ABI we support
// but jmp_buf does not carry them, so each record saves them with fegetmode.
//
// Debugging: frames of a running sjlj context lead, past its entry, into the
// enter_fresh frame left on the first jumper's stack; that stack has since
// moved on, so backtraces above the entry may show stale frames.
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fenv.h>
#include <alloca.h>
#include <new>

#include "backends.hpp"
#include "portable_record.hpp"

namespace cospace::context {
namespace {

struct sjlj_record {
  jmp_buf registers;
  femode_t fp_modes;
  resume_slot slot;
  cospace_context_entry fresh_entry = nullptr;  // non-null until the context first runs
};

// Room left between a fresh record and the first frame of its entry.
constexpr std::uintptr_t landing_gap = 64;

[[noreturn, gnu::noinline]] void start(sjlj_record* record) {
  cospace_context_entry entry = record->fresh_entry;
  record->fresh_entry = nullptr;
  fesetmode(&record->fp_modes);
  entry(take_resume(record->slot));
  cospace_context_entry_returned();
}

[[noreturn, gnu::noinline]] void enter_fresh(sjlj_record* target) {
  const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  const auto landing = reinterpret_cast<std::uintptr_t>(target) - landing_gap;
  if (landing >= here) {
    std::fputs(
        "cospace: sjlj backend: a fresh context's stack must lie below the stack of the context "
        "that first jumps to it\n",
        stderr);
    std::abort();
  }
  void* gap = alloca(here - landing);
  asm volatile("" : : "r"(gap) : "memory");  // keep the alloca: it is the whole point
  start(target);
}

[[gnu::noinline]] cospace_transfer switch_to(cospace_context to, void* data,
                                             cospace_ontop_function fn) {
  sjlj_record self;
  fegetmode(&self.fp_modes);
  sjlj_record* target = from_handle<sjlj_record>(to);
  target->slot.incoming = {as_handle(&self), data};
  target->slot.ontop = fn;
  if (_setjmp(self.registers) == 0) {
    if (target->fresh_entry != nullptr) enter_fresh(target);
    _longjmp(target->registers, 1);
  }
  fesetmode(&self.fp_modes);
  return take_resume(self.slot);
}

}  // namespace
}  // namespace cospace::context

using namespace cospace::context;

extern "C" {

cospace_context cospace_sjlj_make(void* top, std::size_t, cospace_context_entry entry) noexcept {
  auto* record = new (record_at_top<sjlj_record>(top)) sjlj_record;
  record->fresh_entry = entry;
  fegetmode(&record->fp_modes);
  return as_handle(record);
}

cospace_transfer cospace_sjlj_jump(cospace_context to, void* data) {
  return switch_to(to, data, nullptr);
}

cospace_transfer cospace_sjlj_ontop(cospace_context to, void* data, cospace_ontop_function fn) {
  return switch_to(to, data, fn);
}

[[gnu::noinline]] void* cospace_sjlj_stack_pointer() noexcept { return __builtin_dwarf_cfa(); }

}  // extern "C"
