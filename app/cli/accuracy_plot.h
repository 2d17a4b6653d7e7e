// An accuracy-vs-latency scatter plot as a standalone SVG (one labelled point per configuration).
#pragma once
#include <string>
#include <vector>

namespace distrvit::cli {

struct PlotPoint {
  std::string label;
  double latency_ms;  // per image
  double top1;        // percent
};

std::string accuracy_latency_svg(const std::vector<PlotPoint>& points, const std::string& title);

}  // namespace distrvit::cli
