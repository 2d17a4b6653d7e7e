#include "accuracy_plot.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace distrvit::cli {
namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

}  // namespace

std::string accuracy_latency_svg(const std::vector<PlotPoint>& points, const std::string& title) {
  constexpr double kWidth = 720, kHeight = 480, kLeft = 70, kRight = 30, kTop = 40, kBottom = 60;
  double x_max = 0, y_min = 100, y_max = 0;
  for (const PlotPoint& p : points) {
    x_max = std::max(x_max, p.latency_ms);
    y_min = std::min(y_min, p.top1);
    y_max = std::max(y_max, p.top1);
  }
  x_max = x_max > 0 ? x_max * 1.15 : 1;
  y_min = std::max(0.0, std::floor(y_min - 5));
  y_max = std::min(100.0, std::ceil(y_max + 2));
  if (y_max <= y_min) y_max = y_min + 1;
  auto sx = [&](double x) { return kLeft + x / x_max * (kWidth - kLeft - kRight); };
  auto sy = [&](double y) { return kHeight - kBottom - (y - y_min) / (y_max - y_min) * (kHeight - kTop - kBottom); };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{3}</text>\n",
      kWidth, kHeight, kWidth / 2, escape(title));
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", kLeft, kHeight - kBottom,
                     kWidth - kRight);
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", kLeft, kTop, kHeight - kBottom);
  for (int i = 0; i <= 5; ++i) {
    const double x = x_max * i / 5, y = y_min + (y_max - y_min) * i / 5;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:.3g}</text>\n", sx(x), kHeight - kBottom + 18, x);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{:.1f}</text>\n", kLeft - 6, sy(y) + 4, y);
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>\n", kLeft, sy(y), kWidth - kRight);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">latency per image (ms)</text>\n", (kLeft + kWidth - kRight) / 2,
                     kHeight - 18);
  svg += fmt::format("<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">top-1 (%)</text>\n",
                     (kTop + kHeight - kBottom) / 2);
  for (const PlotPoint& p : points) {
    svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"#1f77b4\"/>\n", sx(p.latency_ms), sy(p.top1));
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{} ({:.1f} %)</text>\n", sx(p.latency_ms) + 8, sy(p.top1) - 6,
                       escape(p.label), p.top1);
  }
  return svg + "</svg>\n";
}

}  // namespace distrvit::cli
