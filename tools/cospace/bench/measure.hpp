// What every measurement of the suite shares: the timing method, the memory
// snapshot read from /proc, and a description of the machine.
//
// Timing: std::chrono::steady_clock around a batch of n operations. The batch
// size is calibrated first (which also warms caches, branch predictors and
// allocator pools up): n grows until one batch takes the plan's batch time.
// Then every operation's batch runs `repetitions` times, interleaved (one
// batch of each in turn, so that a slow moment of a shared machine hurts all
// alike), and each figure is the median of its per-operation times. The
// median, not the mean, because a repetition that lost the CPU is an outlier,
// not a sample.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

// Boost.Context knows nothing of the sanitizers' stack bookkeeping: in a
// sanitizer build the suite leaves it out (its figures would mean nothing
// there anyway) and says so.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COSPACE_TOOL_SANITIZED 1
#else
#define COSPACE_TOOL_SANITIZED 0
#endif
#if defined(COSPACE_TOOL_HAVE_BOOST) && !COSPACE_TOOL_SANITIZED
#define COSPACE_TOOL_USE_BOOST 1
#else
#define COSPACE_TOOL_USE_BOOST 0
#endif

namespace cospace::tool::bench {

// Why the Boost rows are missing, or "Boost.Context <version>" when they are not.
std::string boost_description();
bool boost_available() noexcept;

// Calls fn(arg) about `bytes` below the caller's frame: recursion in frames of
// roughly 256 bytes, each written to, so that the stack really is in use
// there. What every fiber body of the memory figures does before it yields.
void run_at_depth(std::size_t bytes, void (*fn)(void*), void* arg);

struct timing_plan {
  int repetitions;
  double batch_seconds;
};

// --quick: 3 repetitions of 10 ms; otherwise 7 of 100 ms.
timing_plan plan_for(bool quick) noexcept;

double median(std::vector<double> values);

// One timed operation, set up and calibrated: `batch(n)` performs n
// operations (holding whatever state it needs), and the batch size is chosen
// so that a batch takes about the plan's batch time. sample() times one batch.
class timed_op {
 public:
  // counted_per_op: how many of the units the figure counts one operation is
  // (2 for a ping-pong round trip reported per one-way switch).
  timed_op(const timing_plan& plan, std::function<void(std::uint64_t)> batch, double counted_per_op = 1);
  double sample() const;  // ns per counted unit

 private:
  double seconds(std::uint64_t n) const;
  std::function<void(std::uint64_t)> batch_;
  double counted_per_op_;
  std::uint64_t n_ = 16;
};

// Resident memory as the suite counts it: VmRSS + VmPTE, and the number of
// VMAs (lines of /proc/self/maps).
struct memory_snapshot {
  long rss_kib = -1;
  long pte_kib = -1;
  long vmas = -1;
};
memory_snapshot read_memory() noexcept;

// Available memory now (MemAvailable), in KiB; -1 when unknown.
long available_kib() noexcept;

struct machine_info {
  std::string cpu;         // model name from /proc/cpuinfo
  long vcpus = 0;          // online CPUs
  double memory_gib = 0;   // MemTotal
  std::string kernel;      // uname -r
  std::string arch;        // uname -m
  std::string date_utc;    // when the run started, "YYYY-MM-DD HH:MM:SS UTC"
  std::string one_line() const;  // "AMD EPYC, 2 vCPUs, 23.4 GiB, Linux 6.x x86_64"
};
machine_info describe_machine();

}  // namespace cospace::tool::bench
