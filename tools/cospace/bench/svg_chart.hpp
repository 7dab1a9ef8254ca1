// A line chart on log-log axes, written as SVG by hand: axes with labelled
// decade ticks (and unlabelled ticks at 2..9 times each), one coloured line
// with point markers per series, a legend, a title and footnotes.
#pragma once

#include <string>
#include <vector>

namespace cospace::tool::bench {

struct chart_point {
  double x = 0, y = 0;  // both > 0
  bool last_before_stop = false;  // drawn as a cross: the series could go no further
};

struct chart_series {
  std::string label;
  std::vector<chart_point> points;
};

struct log_chart {
  std::string title, subtitle;
  std::string x_label, y_label;
  std::string (*x_tick)(double decade_value) = nullptr;  // label of a decade tick
  std::string (*y_tick)(double decade_value) = nullptr;
  std::vector<chart_series> series;
  std::vector<std::string> footnotes;
};

// The whole SVG document. Series without points are listed in the legend as
// "(no figures)"; the axes span the decades around all points.
std::string render_svg(const log_chart& chart);

// "&<>\"" escaped for XML text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace cospace::tool::bench
