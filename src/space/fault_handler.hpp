// The SIGSEGV handler that grows stacks, and the per-thread state it reads.
#pragma once

#include "region.hpp"

namespace cospace::detail {

// Installs the process-wide handler once, remembering the handler it replaces.
void install_fault_handler();

// The region whose stack this thread is running on (null: the thread's own
// stack). The fiber layer sets it on every switch: it is one store.
region* current_region() noexcept;
void set_current_region(region* r) noexcept;

// Gives this thread an alternate signal stack if it has none, so that the
// handler can run when a fiber's stack is the thing that faulted. Called when
// a thread first runs a fiber; cheap after the first call.
void prepare_thread_for_fibers();

}  // namespace cospace::detail
