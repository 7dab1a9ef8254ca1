// The SIGSEGV handler that grows stacks, and the per-thread state it reads.
#pragma once

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

}  // namespace cospace::detail
