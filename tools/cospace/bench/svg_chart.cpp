#include "svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace cospace::tool::bench {
namespace {

constexpr double width = 960, plot_height = 440;
constexpr double left = 100, right = 30, top = 86;
constexpr double legend_row = 20, footnote_row = 18;
constexpr const char* palette[] = {"#1b6ac9", "#e8590c", "#2f9e44", "#862e9c", "#c92a2a", "#495057", "#0c8599",
                                   "#e67700"};

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", v);
  return text;
}

// One log axis: maps a value to a pixel coordinate between `from` and `to`.
struct log_axis {
  int low_decade = 0, high_decade = 1;
  double from = 0, to = 1;

  double at(double value) const {
    const double t = (std::log10(value) - low_decade) / (high_decade - low_decade);
    return from + t * (to - from);
  }
};

log_axis axis_for(double lo, double hi, double from, double to) {
  log_axis a;
  a.low_decade = static_cast<int>(std::floor(std::log10(lo)));
  a.high_decade = static_cast<int>(std::ceil(std::log10(hi)));
  if (a.high_decade <= a.low_decade) a.high_decade = a.low_decade + 1;
  a.from = from;
  a.to = to;
  return a;
}

std::string text_at(double x, double y, const std::string& anchor, const std::string& text,
                    const std::string& extra = "") {
  return "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\" text-anchor=\"" + anchor + "\"" + extra + ">" +
         xml_escape(text) + "</text>\n";
}

std::string line(double x1, double y1, double x2, double y2, const std::string& style) {
  return "<line x1=\"" + number(x1) + "\" y1=\"" + number(y1) + "\" x2=\"" + number(x2) + "\" y2=\"" + number(y2) +
         "\" " + style + "/>\n";
}

std::string marker(double x, double y, const char* colour, bool cross) {
  if (!cross)
    return "<circle cx=\"" + number(x) + "\" cy=\"" + number(y) + "\" r=\"4\" fill=\"" + colour + "\"/>\n";
  const std::string style = std::string("stroke=\"") + colour + "\" stroke-width=\"3\"";
  return line(x - 6, y - 6, x + 6, y + 6, style) + line(x - 6, y + 6, x + 6, y - 6, style);
}

std::string default_tick(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_svg(const log_chart& chart) {
  double x_lo = std::numeric_limits<double>::max(), x_hi = 0, y_lo = x_lo, y_hi = 0;
  for (const chart_series& s : chart.series) {
    for (const chart_point& p : s.points) {
      if (p.x <= 0 || p.y <= 0) continue;
      x_lo = std::min(x_lo, p.x);
      x_hi = std::max(x_hi, p.x);
      y_lo = std::min(y_lo, p.y);
      y_hi = std::max(y_hi, p.y);
    }
  }
  if (x_hi == 0) x_lo = 1, x_hi = 10, y_lo = 1, y_hi = 10;  // nothing to draw: empty decades
  // Layout, top to bottom: title, subtitle, the plot, the x label, the legend, the footnotes.
  const double plot_bottom = top + plot_height;
  const double legend_top = plot_bottom + 72;
  const double footnote_top = legend_top + legend_row * static_cast<double>(chart.series.size()) + 10;
  const double total_height = footnote_top + footnote_row * static_cast<double>(chart.footnotes.size()) + 12;
  const log_axis x = axis_for(x_lo, x_hi, left, width - right);
  const log_axis y = axis_for(y_lo, y_hi, plot_bottom, top);
  const auto x_tick = chart.x_tick != nullptr ? chart.x_tick : &default_tick;
  const auto y_tick = chart.y_tick != nullptr ? chart.y_tick : &default_tick;

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(width) + "\" height=\"" +
         number(total_height) + "\" viewBox=\"0 0 " + number(width) + " " + number(total_height) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += text_at(width / 2, 28, "middle", chart.title, " font-size=\"18\" font-weight=\"bold\"");
  svg += text_at(width / 2, 50, "middle", chart.subtitle, " fill=\"#495057\"");

  // Grid and ticks: a labelled line at every decade, a faint one at 2..9 times it.
  const std::string grid = "stroke=\"#e9ecef\" stroke-width=\"1\"";
  const std::string major = "stroke=\"#ced4da\" stroke-width=\"1\"";
  for (int d = x.low_decade; d <= x.high_decade; ++d) {
    const double value = std::pow(10.0, d);
    for (int m = 2; m <= 9 && d < x.high_decade; ++m) {
      const double px = x.at(value * m);
      svg += line(px, top, px, plot_bottom, grid);
    }
    const double px = x.at(value);
    svg += line(px, top, px, plot_bottom + 5, major);
    svg += text_at(px, plot_bottom + 22, "middle", x_tick(value));
  }
  for (int d = y.low_decade; d <= y.high_decade; ++d) {
    const double value = std::pow(10.0, d);
    for (int m = 2; m <= 9 && d < y.high_decade; ++m) {
      const double py = y.at(value * m);
      svg += line(left, py, width - right, py, grid);
    }
    const double py = y.at(value);
    svg += line(left - 5, py, width - right, py, major);
    svg += text_at(left - 9, py + 4, "end", y_tick(value));
  }
  const std::string axis_style = "stroke=\"#212529\" stroke-width=\"1.5\"";
  svg += line(left, plot_bottom, width - right, plot_bottom, axis_style);
  svg += line(left, top, left, plot_bottom, axis_style);
  svg += text_at((left + width - right) / 2, plot_bottom + 46, "middle", chart.x_label);
  svg += "<text x=\"24\" y=\"" + number((top + plot_bottom) / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 24 " +
         number((top + plot_bottom) / 2) + ")\">" + xml_escape(chart.y_label) + "</text>\n";

  // Series, then their legend below the plot.
  for (std::size_t i = 0; i < chart.series.size(); ++i) {
    const char* colour = palette[i % (sizeof palette / sizeof palette[0])];
    std::string points;
    for (const chart_point& p : chart.series[i].points)
      points += number(x.at(p.x)) + "," + number(y.at(p.y)) + " ";
    if (chart.series[i].points.size() > 1)
      svg += std::string("<polyline fill=\"none\" stroke=\"") + colour + "\" stroke-width=\"2.5\" points=\"" + points +
             "\"/>\n";
    for (const chart_point& p : chart.series[i].points) svg += marker(x.at(p.x), y.at(p.y), colour, p.last_before_stop);
  }
  for (std::size_t i = 0; i < chart.series.size(); ++i) {
    const char* colour = palette[i % (sizeof palette / sizeof palette[0])];
    const double ly = legend_top + legend_row * static_cast<double>(i);
    svg += line(left, ly - 4, left + 26, ly - 4, std::string("stroke=\"") + colour + "\" stroke-width=\"2.5\"");
    svg += marker(left + 13, ly - 4, colour, false);
    std::string label = chart.series[i].label;
    if (chart.series[i].points.empty()) label += " (no figures)";
    svg += text_at(left + 36, ly, "start", label);
  }
  for (std::size_t i = 0; i < chart.footnotes.size(); ++i)
    svg += text_at(left, footnote_top + footnote_row * static_cast<double>(i), "start", chart.footnotes[i],
                   " font-size=\"12\" fill=\"#495057\"");
  svg += "</svg>\n";
  return svg;
}

}  // namespace cospace::tool::bench
