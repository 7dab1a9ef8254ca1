// The biased lock's slow half: the spin lock, the bias and its revocation
// (biased_lock.hpp has the protocol).
#include "biased_lock.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cospace::detail {

namespace {

enum class membarrier_state : int { unknown, ready, refused };
std::atomic<membarrier_state> g_membarrier{membarrier_state::unknown};

long membarrier(int command) noexcept { return syscall(SYS_membarrier, command, 0, 0); }

// Registers the process for private expedited membarriers, once. Racing
// first callers both register, which the kernel allows.
bool membarrier_ready() noexcept {
  const membarrier_state known = g_membarrier.load(std::memory_order_acquire);
  if (known != membarrier_state::unknown) return known == membarrier_state::ready;
  const long commands = membarrier(MEMBARRIER_CMD_QUERY);
  const bool ok = commands > 0 && (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
                  membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
  g_membarrier.store(ok ? membarrier_state::ready : membarrier_state::refused, std::memory_order_release);
  return ok;
}

#if defined(__SANITIZE_THREAD__)
constexpr bool thread_sanitizer = true;  // it cannot follow membarrier's ordering
#else
constexpr bool thread_sanitizer = false;
#endif

}  // namespace

bool biased_lock::bias_supported() noexcept { return !thread_sanitizer && membarrier_ready(); }

biased_lock::held biased_lock::lock_shared(std::uintptr_t me) noexcept {
  spin_.lock();
  if (owner_.load(std::memory_order_relaxed) != 0) revoke();  // biased to another thread
  if (last_ != me) {
    last_ = me;
    streak_ = 1;
  } else if (++streak_ == bias_after && !revoked_.load(std::memory_order_relaxed) && bias_supported()) {
    // Ours from the next lock() on; this one is released as a spin lock. A
    // thread that takes the spin lock next sees the bias and revokes it.
    owner_.store(me, std::memory_order_relaxed);
  }
  return held::shared;
}

// Under spin_, with the lock biased to another thread: takes the bias back
// and waits until its owner is out of the lock.
void biased_lock::revoke() noexcept {
  owner_.store(0, std::memory_order_relaxed);
  revoked_.store(true, std::memory_order_relaxed);
  // The syscall is a compiler barrier too: the store above comes first.
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
    // Registered before the bias was granted, so only a kernel that broke
    // its word gets here; without the barrier the owner could be inside
    // unseen, and going on would corrupt what the lock guards.
    std::fprintf(stderr, "cospace: fatal: membarrier(PRIVATE_EXPEDITED) failed (%s) while revoking a lock's bias\n",
                 std::strerror(errno));
    std::abort();
  }
  for (unsigned spins = 0; inside_.load(std::memory_order_acquire) != 0;) {
    if (++spins > 128) {
      sched_yield();
      spins = 0;
    } else {
      cpu_relax();
    }
  }
}

}  // namespace cospace::detail
