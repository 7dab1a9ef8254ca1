// The process-wide epoll poller (io.cpp), seen from the worker loop. One
// worker at a time holds the poller role: it polls without waiting while it
// has work, and an idle worker sleeps in epoll_wait instead of on its futex.
#pragma once

#include <cospace/scheduler.hpp>

namespace cospace::detail {

// False until the first socket waits on the poller (no epoll instance before).
bool poller_in_use() noexcept;
bool poller_try_acquire() noexcept;
void poller_release() noexcept;
// Waits for readiness events until `deadline` (now: do not wait), wakes the
// fibers they concern. Call with the role held.
void poller_wait(clock::time_point deadline) noexcept;
// Makes a pending poller_wait return (from any thread).
void poller_interrupt() noexcept;

}  // namespace cospace::detail
