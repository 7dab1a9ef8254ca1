// The context-switch backends: each implements the same four verbs under its
// own prefix, so that all three can be linked into one program (the
// benchmarks and the demo compare them side by side). The library itself
// uses the one selected in backend.hpp.
//
// Contract common to every backend (see include/cospace/context.h):
//   make(top, size, entry): writes only inside [top - size, top) and returns a
//     handle; the first jump to it calls entry({from, data}) on that stack with
//     the stack pointer 16-byte aligned as the ABI requires at a call.
//     Arguments are already validated by cospace_context_create.
//   jump(to, data): saves what the ABI makes callee-saved (and the floating-
//     point control state) on the caller's stack, resumes `to`.
//   ontop(to, data, fn): as jump, but `to` first runs fn({from, data}) and
//     continues with its result.
//   stack_pointer(): the caller's stack pointer.
// No backend allocates memory or makes a system call on the switch path.
#pragma once

#include <cospace/context.h>

#include <cstddef>

extern "C" {
cospace_context cospace_asm_make(void* top, std::size_t size, cospace_context_entry entry) noexcept;
cospace_transfer cospace_asm_jump(cospace_context to, void* data);
cospace_transfer cospace_asm_ontop(cospace_context to, void* data, cospace_ontop_function fn);
void* cospace_asm_stack_pointer() noexcept;

cospace_context cospace_sjlj_make(void* top, std::size_t size, cospace_context_entry entry) noexcept;
cospace_transfer cospace_sjlj_jump(cospace_context to, void* data);
cospace_transfer cospace_sjlj_ontop(cospace_context to, void* data, cospace_ontop_function fn);
void* cospace_sjlj_stack_pointer() noexcept;

cospace_context cospace_ucontext_make(void* top, std::size_t size, cospace_context_entry entry) noexcept;
cospace_transfer cospace_ucontext_jump(cospace_context to, void* data);
cospace_transfer cospace_ucontext_ontop(cospace_context to, void* data, cospace_ontop_function fn);
void* cospace_ucontext_stack_pointer() noexcept;

// Called when a context's entry returns, which the contract forbids: prints a
// diagnostic and aborts. Shared by every backend.
[[noreturn]] void cospace_context_entry_returned() noexcept;
}

namespace cospace::context {

// A backend as a value: its name, its minimum stack and its verbs. Every
// instance is constexpr, so calls through it compile to direct calls.
struct backend {
  const char* name;
  std::size_t min_stack;  // bookkeeping the backend keeps on the stack, plus room for a few frames
  cospace_context (*make)(void*, std::size_t, cospace_context_entry) noexcept;
  cospace_transfer (*jump)(cospace_context, void*);  // may throw only what an ontop function throws
  cospace_transfer (*ontop)(cospace_context, void*, cospace_ontop_function);
  void* (*stack_pointer)() noexcept;
  // sjlj enters a fresh stack by moving the stack pointer down with alloca, so
  // the stack must lie below the stack of whoever first jumps to it.
  bool needs_stack_below_caller;
  // Bytes below a suspended context's handle that its pending jump still
  // uses (stack slicing saves from there). The asm handle is the stack
  // pointer after the pushes: 0. The portable backends' handle is a record
  // inside their jump function's frame, which may keep locals and spills
  // below it: a bound on that part of the frame, exercised by the sliced
  // fiber suite under the sjlj and ucontext presets.
  std::size_t live_below_handle;
};

inline constexpr backend asm_backend{"asm",         256,
                                     &cospace_asm_make, &cospace_asm_jump,
                                     &cospace_asm_ontop, &cospace_asm_stack_pointer,
                                     false,             0};
inline constexpr backend sjlj_backend{"sjlj",          4096,
                                      &cospace_sjlj_make, &cospace_sjlj_jump,
                                      &cospace_sjlj_ontop, &cospace_sjlj_stack_pointer,
                                      true,               1024};
// ucontext_t is about 1 KiB on x86-64 and 4.5 KiB on AArch64; it lives at the
// top of a fresh stack, and glibc's makecontext wants room below it.
inline constexpr backend ucontext_backend{"ucontext",        32 * 1024,
                                          &cospace_ucontext_make, &cospace_ucontext_jump,
                                          &cospace_ucontext_ontop, &cospace_ucontext_stack_pointer,
                                          false,                  1024};

}  // namespace cospace::context
