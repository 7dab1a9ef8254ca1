// A lock that one thread may hold without a locked instruction: the
// channel's lock. On this layer's hot path (a channel hop on one worker) the
// two locked exchanges of a plain spin lock were a third of the time
// (docs/benchmarks.md, "the hop's floor").
//
// Unbiased, it is a spin lock. A thread that takes it `bias_after` times in
// a row, with no other thread in between, is made its owner; from then on
// the owner takes and releases it with plain loads and stores:
//
//   owner's lock():  inside = 1;  if (owner == me) enter;  else inside = 0, slow path
//   owner's unlock(): inside = 0 (release)
//
// Any other thread takes the spin lock and revokes the bias (for good: the
// lock never biases again), as the asymmetric half of Dekker's protocol:
//
//   revoke():  owner = 0;  membarrier();  wait until inside == 0 (acquire)
//
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) runs a full memory barrier on
// every CPU that runs a thread of this process, so either the owner's
// `inside = 1` is visible to the revoker after the call (which then waits
// for the owner to leave), or the owner's later read of `owner` sees 0 (and
// it takes the spin lock, which the revoker holds). The owner's side needs
// only the compiler not to reorder its store and load; the CPU's own
// reordering is what the membarrier call undoes. Its cost (1–15 µs: an
// interrupt to the other CPUs) is paid once in a lock's life, and only by a
// lock one thread had used `bias_after` times in a row.
//
// Not in ThreadSanitizer builds (it cannot see membarrier's ordering, and
// would report the owner's plain accesses), nor where the kernel refuses
// membarrier: then it stays a spin lock.
#pragma once

#include <atomic>
#include <cstdint>

#include "lock.hpp"
#include "thread_identity.hpp"

namespace cospace::detail {

class biased_lock {
 public:
  // How the caller holds the lock; unlock() takes it back.
  enum class held : std::uint8_t { as_owner, shared };

  // Consecutive acquisitions by one thread that bias the lock to it.
  static constexpr std::uint32_t bias_after = 256;

  [[gnu::always_inline]] held lock() noexcept {
    const std::uintptr_t me = this_thread_identity();
    if (owner_.load(std::memory_order_relaxed) == me) {
      inside_.store(1, std::memory_order_relaxed);
      // Compiler order only: store `inside`, then load `owner` (the revoker's
      // membarrier supplies the CPU's side).
      std::atomic_signal_fence(std::memory_order_seq_cst);
      if (owner_.load(std::memory_order_relaxed) == me) return held::as_owner;
      inside_.store(0, std::memory_order_release);  // revoked meanwhile
    }
    return lock_shared(me);
  }
  [[gnu::always_inline]] void unlock(held how) noexcept {
    if (how == held::as_owner) inside_.store(0, std::memory_order_release);
    else spin_.unlock();
  }

  // Whether the calling thread owns the lock (for tests).
  bool biased_to_caller() const noexcept {
    return owner_.load(std::memory_order_relaxed) == this_thread_identity();
  }
  // Whether a bias was ever revoked (for tests).
  bool revoked() const noexcept { return revoked_.load(std::memory_order_relaxed); }
  // Whether locks may bias in this process (build and kernel).
  static bool bias_supported() noexcept;

 private:
  [[gnu::noinline]] held lock_shared(std::uintptr_t me) noexcept;
  void revoke() noexcept;

  // The owner's identity (this_thread_identity()) while biased, else 0.
  // Set by a holder of `spin_` (to itself), cleared by a holder of `spin_`.
  std::atomic<std::uintptr_t> owner_{0};
  std::atomic<std::uint32_t> inside_{0};  // the owner holds the lock; only it writes this
  spinlock spin_;
  // Under spin_: who took it last, how many times in a row.
  std::uintptr_t last_ = 0;
  std::uint32_t streak_ = 0;
  std::atomic<bool> revoked_{false};  // written under spin_; atomic for the tests' reads
};

// A biased_lock as a Lockable that remembers how it was taken (park_on()
// unlocks before parking and may lock again after).
class biased_guard {
 public:
  explicit biased_guard(biased_lock& l) noexcept : lock_(l) {}
  void lock() noexcept { how_ = lock_.lock(); }
  void unlock() noexcept { lock_.unlock(how_); }

 private:
  biased_lock& lock_;
  biased_lock::held how_ = biased_lock::held::shared;
};

}  // namespace cospace::detail
