// The last N values of a series, oldest first, contiguous for ImGui::PlotLines.
#pragma once
#include <algorithm>
#include <vector>

namespace distrvit::gui {

class RollingHistory {
 public:
  explicit RollingHistory(size_t capacity = 300) : capacity_(capacity) {}

  void push(float value) {
    if (values_.size() == capacity_) values_.erase(values_.begin());
    values_.push_back(value);
  }
  const std::vector<float>& values() const { return values_; }
  bool empty() const { return values_.empty(); }
  float last() const { return values_.empty() ? 0.0f : values_.back(); }
  float max() const { return values_.empty() ? 0.0f : *std::max_element(values_.begin(), values_.end()); }
  float mean() const {
    if (values_.empty()) return 0.0f;
    double sum = 0;
    for (float value : values_) sum += value;
    return static_cast<float>(sum / values_.size());
  }

 private:
  size_t capacity_;
  std::vector<float> values_;
};

}  // namespace distrvit::gui
