// The SIGSEGV handler that grows stacks, and the per-thread state it reads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "region.hpp"

namespace cospace::detail {

// Installs the process-wide handler once, remembering the handler it replaces.
void install_fault_handler();

// Per-thread state the handler reads. constinit + initial-exec: the fiber
// layer's switch path reaches them with one %fs-relative access, no call.
[[gnu::tls_model("initial-exec")]] extern thread_local constinit region* t_current_region;
[[gnu::tls_model("initial-exec")]] extern thread_local constinit bool t_thread_prepared;

// The region whose stack this thread is running on (null: the thread's own
// stack). The fiber layer sets it on every switch: it is one store.
inline region* current_region() noexcept { return t_current_region; }
inline void set_current_region(region* r) noexcept { t_current_region = r; }

// Gives this thread an alternate signal stack if it has none, so that the
// handler can run when a fiber's stack is the thing that faulted. Called when
// a thread first runs a fiber; one load after the first call.
void prepare_thread_slow();
inline void prepare_thread_for_fibers() {
  if (!t_thread_prepared) [[unlikely]] prepare_thread_slow();
}

// Valgrind (x86-64) moves rsp before the store of a call or push. When that
// store is a growth fault, the handler returns to the same instruction with rsp
// already moved, and it moves it again: every frame above is then 8 bytes off,
// and a later ret jumps to garbage. On hardware the fault leaves rsp alone and
// is at rsp - 8, never at rsp. Given the faulting instruction's bytes, the rsp
// it will run again with and the fault address, this returns the bytes to add
// back to rsp: 8 for a call or push (any prefixes valgrind's code may carry:
// notrack, bnd, REX) whose store faulted at rsp, else 0.
std::size_t valgrind_push_correction(const unsigned char* code, std::uintptr_t stack_pointer,
                                     std::uintptr_t address) noexcept;

}  // namespace cospace::detail
