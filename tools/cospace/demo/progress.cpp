#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "machine.hpp"

namespace cospace::tool {
namespace {

constexpr int bar_width = 40;

// A terminal gets a bar redrawn 200 times a phase; a log gets one line a phase.
std::uint64_t stride(std::uint64_t total) {
  return progress::on_terminal() ? std::max<std::uint64_t>(1, total / 200) : total + 1;
}

}  // namespace

bool progress::on_terminal() {
  static const bool tty = isatty(STDOUT_FILENO) == 1;
  return tty;
}

progress::progress(std::string label, std::uint64_t total)
    : label_(std::move(label)), total_(total), next_(stride(total)) {
  redraw();
}

progress::~progress() {
  if (!finished_ && on_terminal()) std::fputs("\n", stdout);
}

void progress::redraw() {
  std::unique_lock lock(drawing_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  const std::uint64_t done = done_.load(std::memory_order_relaxed);
  next_.store(done + stride(total_), std::memory_order_relaxed);
  const double share = total_ == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total_);
  if (on_terminal()) {
    const int filled = static_cast<int>(share * bar_width);
    std::printf("\r  %-28s [%.*s%*s] %3.0f%%", label_.c_str(), filled,
                "########################################", bar_width - filled, "", share * 100);
    std::fflush(stdout);
  }
}

double progress::finish() {
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_;
  done_ = total_;
  if (on_terminal()) {
    redraw();
    std::printf("  %6.2f s\n", took.count());
  } else {
    std::printf("  %-28s done (%s) in %.2f s\n", label_.c_str(), with_commas(total_).c_str(), took.count());
  }
  std::fflush(stdout);
  finished_ = true;
  return took.count();
}

}  // namespace cospace::tool
