// Progress of one phase of the demo: a redrawn bar on a terminal, a few plain
// lines otherwise (logs and ctest output stay readable).
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstdint>
#include <string>

namespace cospace::tool {

class progress {
 public:
  progress(std::string label, std::uint64_t total);
  ~progress();
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;

  // Thread-safe; one thread at a time redraws.
  void step() {
    if (done_.fetch_add(1, std::memory_order_relaxed) + 1 >= next_.load(std::memory_order_relaxed)) redraw();
  }
  // Prints the phase's final line with its time; returns the seconds it took.
  double finish();

  static bool on_terminal();

 private:
  void redraw();

  std::string label_;
  std::uint64_t total_;
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::uint64_t> next_{0};
  std::mutex drawing_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace cospace::tool
