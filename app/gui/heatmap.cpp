#include "heatmap.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace distrvit::gui {
namespace {

struct Rgb {
  float r, g, b;
};

// Dark purple -> red -> orange -> pale yellow, perceptually increasing in brightness.
Rgb heat_color(float t) {
  static const std::array<Rgb, 5> stops = {{{0, 0, 10}, {70, 20, 120}, {185, 50, 95}, {245, 135, 35}, {252, 245, 160}}};
  t = std::clamp(t, 0.0f, 1.0f) * (stops.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), stops.size() - 2);
  const float f = t - i;
  const Rgb& a = stops[i];
  const Rgb& b = stops[i + 1];
  return {a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b)};
}

// The grid sampled bilinearly at pixel (x, y) of a width x height image, patch centres on pixel centres.
float sample(const AttentionGrid& grid, int x, int y, int width, int height) {
  const float gx = std::clamp((x + 0.5f) * grid.cols / width - 0.5f, 0.0f, grid.cols - 1.0f);
  const float gy = std::clamp((y + 0.5f) * grid.rows / height - 0.5f, 0.0f, grid.rows - 1.0f);
  const int x0 = static_cast<int>(gx), y0 = static_cast<int>(gy);
  const int x1 = std::min(x0 + 1, grid.cols - 1), y1 = std::min(y0 + 1, grid.rows - 1);
  const float fx = gx - x0, fy = gy - y0;
  const auto at = [&](int row, int col) { return grid.values[static_cast<size_t>(row) * grid.cols + col]; };
  const float top = at(y0, x0) + fx * (at(y0, x1) - at(y0, x0));
  const float bottom = at(y1, x0) + fx * (at(y1, x1) - at(y1, x0));
  return top + fy * (bottom - top);
}

uint8_t to_byte(float value) { return static_cast<uint8_t>(std::clamp(std::lround(value), 0L, 255L)); }

// Each pixel: the image's gray level mixed with colour(x, y) by weight(x, y).
template <typename Tint>
ImageU8 tint_gray(const ImageU8& image, Tint tint) {
  ImageU8 out = image;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      uint8_t* pixel = out.rgb.data() + (static_cast<size_t>(y) * image.width + x) * 3;
      const float gray = 0.6f * (0.299f * pixel[0] + 0.587f * pixel[1] + 0.114f * pixel[2]);
      float weight = 0;
      const Rgb color = tint(x, y, weight);
      pixel[0] = to_byte(gray + weight * (color.r - gray));
      pixel[1] = to_byte(gray + weight * (color.g - gray));
      pixel[2] = to_byte(gray + weight * (color.b - gray));
    }
  }
  return out;
}

}  // namespace

float AttentionGrid::max() const { return values.empty() ? 0.0f : *std::max_element(values.begin(), values.end()); }

AttentionGrid patch_attention(const Tensor& cls_attention, int head, int prefix_tokens, int rows, int cols) {
  AttentionGrid grid;
  if (cls_attention.shape.size() != 2) return grid;
  const int64_t heads = cls_attention.shape[0];
  const int64_t tokens = cls_attention.shape[1];
  if (tokens != prefix_tokens + static_cast<int64_t>(rows) * cols || head >= heads) return grid;
  grid.rows = rows;
  grid.cols = cols;
  grid.values.assign(static_cast<size_t>(rows) * cols, 0.0f);
  const int64_t first = head < 0 ? 0 : head;
  const int64_t last = head < 0 ? heads : head + 1;
  for (int64_t h = first; h < last; ++h) {
    const float* row = cls_attention.ptr() + h * tokens + prefix_tokens;
    for (size_t p = 0; p < grid.values.size(); ++p) grid.values[p] += row[p];
  }
  for (float& value : grid.values) value /= static_cast<float>(last - first);
  return grid;
}

ImageU8 heatmap_overlay(const ImageU8& image, const AttentionGrid& grid, float scale, float opacity) {
  if (grid.empty() || scale <= 0) return image;
  return tint_gray(image, [&](int x, int y, float& weight) {
    const float t = std::clamp(sample(grid, x, y, image.width, image.height) / scale, 0.0f, 1.0f);
    weight = opacity * (0.3f + 0.7f * t);  // where attention is low, the image still shows through
    return heat_color(t);
  });
}

ImageU8 difference_overlay(const ImageU8& image, const AttentionGrid& approximate, const AttentionGrid& exact,
                           float scale, float opacity) {
  if (approximate.empty() || exact.empty() || approximate.values.size() != exact.values.size() || scale <= 0) {
    return image;
  }
  AttentionGrid difference = approximate;
  for (size_t i = 0; i < difference.values.size(); ++i) difference.values[i] -= exact.values[i];
  return tint_gray(image, [&](int x, int y, float& weight) {
    const float d = std::clamp(sample(difference, x, y, image.width, image.height) / scale, -1.0f, 1.0f);
    weight = opacity * std::fabs(d);
    return d > 0 ? Rgb{255, 45, 45} : Rgb{50, 110, 255};
  });
}

float total_variation(const AttentionGrid& a, const AttentionGrid& b) {
  if (a.empty() || b.empty() || a.values.size() != b.values.size()) return 0;
  double sum_a = 0, sum_b = 0;
  for (size_t i = 0; i < a.values.size(); ++i) {
    sum_a += a.values[i];
    sum_b += b.values[i];
  }
  if (sum_a <= 0 || sum_b <= 0) return 0;
  double distance = 0;
  for (size_t i = 0; i < a.values.size(); ++i) distance += std::fabs(a.values[i] / sum_a - b.values[i] / sum_b);
  return static_cast<float>(distance / 2);
}

}  // namespace distrvit::gui
