// `cospace plot --svg FILE`: resident memory against the number of suspended
// fibers, for every stack kind and alternative, as an SVG chart.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "alternatives.hpp"
#include "bench_command.hpp"
#include "child_process.hpp"
#include "measure.hpp"
#include "memory_suite.hpp"
#include "svg_chart.hpp"

namespace cospace::tool {
namespace {

using namespace bench;

// Built by appending (GCC 12 at -O3 warns falsely, -Wrestrict, on string::insert here).
std::string with_commas(double value) {
  const std::string digits = std::to_string(static_cast<long long>(value));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && digits[i - 1] != '-' && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string count_tick(double value) {
  if (value >= 1e6) return with_commas(value / 1e6) + "M";
  if (value >= 1e3) return with_commas(value / 1e3) + "k";
  return with_commas(value);
}

std::string mib_tick(double value) {
  if (value < 1) {
    char text[32];
    std::snprintf(text, sizeof text, "%g KiB", value * 1024);
    return text;
  }
  return with_commas(value) + " MiB";
}

constexpr std::size_t footnote_chars = 125;  // what fits in the chart's width

std::string shortened(std::string text, std::size_t at_most) {
  if (text.size() > at_most) text = text.substr(0, at_most - 3) + "...";
  return text;
}

// The chart's series and notes from the rows of one kind.
void add_kind(log_chart& chart, const memory_kind& kind, const std::vector<memory_row>& rows) {
  chart_series s;
  s.label = kind.label;
  const memory_row* largest = nullptr;
  for (const memory_row& r : rows) {
    if (!r.measured() || *r.resident_mib <= 0) continue;
    s.points.push_back({*r.created, *r.resident_mib, !r.stop.empty()});
    largest = &r;
    if (!r.stop.empty())
      chart.footnotes.push_back(shortened("x " + kind.label + ": stopped at " + with_commas(*r.created) + " of " +
                                              with_commas(static_cast<double>(r.fibers)) + ": " + r.stop,
                                          footnote_chars));
  }
  if (largest == nullptr) {
    const std::string why = rows.empty() ? std::string("not measured") : rows.front().reason;
    chart.footnotes.push_back(shortened(kind.label + ": " + why, footnote_chars));
    return;
  }
  char per_fiber[96];
  std::snprintf(per_fiber, sizeof per_fiber, ": %.2f KiB/fiber at %s", *largest->kib_per_fiber,
                with_commas(*largest->created).c_str());
  s.label += per_fiber;
  chart.series.push_back(std::move(s));
  for (const memory_row& r : rows)
    if (!r.measured() && r.reason.rfind("skipped", 0) == 0 && r.reason.find("stopped") == std::string::npos)
      chart.footnotes.push_back(
          shortened(kind.label + " at " + with_commas(static_cast<double>(r.fibers)) + ": " + r.reason, footnote_chars));
}

}  // namespace

int run_plot(const plot_request& request) {
  if (const char* job = std::getenv(child_job_variable); job != nullptr) return run_child_job(job);
  // Open the file first: an unwritable path fails at once, not after the measurements.
  std::FILE* out = std::fopen(request.svg_path.c_str(), "w");
  if (out == nullptr) {
    std::fprintf(stderr, "cospace plot: cannot write %s: %s\n", request.svg_path.c_str(), std::strerror(errno));
    return 2;
  }
  try {
    const machine_info machine = describe_machine();
    const std::vector<std::size_t> counts =
        request.quick ? std::vector<std::size_t>{1'000, 10'000, 100'000}
                      : std::vector<std::size_t>{1'000, 3'000, 10'000, 30'000, 100'000, 300'000, 1'000'000};
    const go_alternative go;
    const greenlet_alternative greenlet;
    log_chart chart;
    chart.title = "Resident memory of suspended fibers";
    chart.subtitle = machine.one_line() + "; " + machine.date_utc + "; cospace plot" + (request.quick ? " --quick" : "");
    chart.x_label = "fibers suspended at once (log scale)";
    chart.y_label = "resident memory, delta VmRSS + VmPTE (log scale)";
    chart.x_tick = &count_tick;
    chart.y_tick = &mib_tick;
    chart.footnotes.push_back("Every fiber suspended ~" + std::to_string(fiber_depth_bytes) +
                              " bytes deep; each point measured in a fresh process.");
    for (const memory_kind& kind : memory_kinds(go, greenlet)) {
      const std::vector<memory_row> rows =
          measure_memory_series(kind, counts, request.quick ? 60 : 600, [&](const memory_row& r) {
            if (r.measured())
              std::printf("  %-18s %9zu fibers: %10.1f MiB, %7.2f KiB/fiber%s%s\n", r.kind.c_str(), r.fibers,
                          *r.resident_mib, *r.kib_per_fiber, r.stop.empty() ? "" : ", stopped: ", r.stop.c_str());
            else
              std::printf("  %-18s %9zu fibers: %s\n", r.kind.c_str(), r.fibers, r.reason.c_str());
            std::fflush(stdout);
          });
      add_kind(chart, kind, rows);
    }
    const std::string svg = render_svg(chart);
    const bool written = std::fputs(svg.c_str(), out) >= 0;
    if (std::fclose(out) != 0 || !written) {
      std::fprintf(stderr, "cospace plot: cannot write %s: %s\n", request.svg_path.c_str(), std::strerror(errno));
      return 2;
    }
    std::printf("cospace plot: wrote %s (%zu series)\n", request.svg_path.c_str(), chart.series.size());
    return 0;
  } catch (const std::exception& e) {
    std::fclose(out);
    std::fprintf(stderr, "cospace plot: %s\n", e.what());
    return 1;
  }
}

}  // namespace cospace::tool
