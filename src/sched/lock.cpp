// The contended half of the scheduler layer's spin locks (lock.hpp).
#include "lock.hpp"

namespace cospace::detail {

void spin_until_acquired(std::atomic<std::uint32_t>& word) noexcept {
  for (unsigned spins = 0;; ++spins) {
    while (word.load(std::memory_order_relaxed) != 0) {
      if (++spins > 128) {
        sched_yield();  // the holder may have been preempted: let it run
        spins = 0;
      } else {
        cpu_relax();
      }
    }
    if (!word.exchange(1, std::memory_order_acquire)) return;
  }
}

}  // namespace cospace::detail
