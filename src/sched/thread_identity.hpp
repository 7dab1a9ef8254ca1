// Which thread is running, read afresh at every call.
//
// A fiber that may migrate can run one call on one thread and the next on
// another, while GCC on AArch64 and RISC-V keeps a thread-local's address
// (the thread pointer) in a register across calls: a `thread_local`'s
// address is not a safe thread identity inside a function that may park.
// The thread pointer read here is an `asm volatile`, which the compiler
// neither merges with an earlier read nor moves across a call. Its value
// is unique among live threads (it addresses the thread's own control block).
#pragma once

#include <cstdint>

namespace cospace::detail {

[[gnu::always_inline]] inline std::uintptr_t this_thread_identity() noexcept {
  std::uintptr_t tp;
#if defined(__x86_64__)
  asm volatile("mov %%fs:0, %0" : "=r"(tp));  // the TCB's self pointer
#elif defined(__aarch64__)
  asm volatile("mrs %0, tpidr_el0" : "=r"(tp));
#elif defined(__riscv) && __riscv_xlen == 64
  asm volatile("mv %0, tp" : "=r"(tp));
#else
#error "cospace: this_thread_identity() has no thread-pointer read for this architecture"
#endif
  return tp;
}

}  // namespace cospace::detail
