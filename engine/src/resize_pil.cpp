// Resampling bit-compatible with PIL's Image.resize on 8-bit RGB.
//
// Bilinear and bicubic are separable convolutions: weights are computed in double per output
// pixel (filter support widened by the scale when downscaling, which is what antialiases), turned
// into fixed point, and applied horizontally first into an 8-bit intermediate, then vertically.
// Nearest is PIL's affine scaling: source = floor((x + 0.5) * scale), accumulated in double.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "distrvit/error.h"
#include "distrvit/preprocess.h"
#include "resize_coefficients.h"

namespace distrvit {
namespace {

constexpr int kChannels = 3;

double bicubic_weight(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double bilinear_weight(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

struct Filter {
  double (*weight)(double);
  double support;  // half-width in input pixels at scale 1
};

Filter filter_for(Interpolation interpolation) {
  if (interpolation == Interpolation::Bilinear) return {bilinear_weight, 1.0};
  return {bicubic_weight, 2.0};
}

int32_t to_fixed_point(double weight) {
  const double scaled = weight * kResizeUnitWeight;
  return static_cast<int32_t>(scaled < 0 ? scaled - 0.5 : scaled + 0.5);  // half away from zero
}

// 1-tap kernels reading sources[i]: a copy (sources = a run of indices) or nearest-neighbour picks.
AxisKernel one_tap_kernel(const std::vector<int>& sources) {
  AxisKernel kernel;
  kernel.taps = 1;
  kernel.first = sources;
  kernel.count.assign(sources.size(), 1);
  kernel.weights.assign(sources.size(), kResizeUnitWeight);
  return kernel;
}

std::vector<int> index_run(int begin, int end) {
  std::vector<int> indices;
  for (int i = begin; i < end; ++i) indices.push_back(i);
  return indices;
}

// The span [begin, end) of inputs a kernel reads; first[] becomes relative to begin.
void rebase(AxisKernel& kernel, int& begin, int& end) {
  begin = kernel.first.front();
  end = begin;
  for (size_t i = 0; i < kernel.first.size(); ++i) {
    begin = std::min(begin, kernel.first[i]);
    end = std::max(end, kernel.first[i] + kernel.count[i]);
  }
  for (int& first : kernel.first) first -= begin;
}

uint8_t fixed_point_to_u8(int32_t accumulator) {
  const int32_t value = accumulator >> kResizePrecisionBits;
  return static_cast<uint8_t>(std::clamp(value, 0, 255));
}

constexpr int32_t kRoundingHalf = 1 << (kResizePrecisionBits - 1);

ImageU8 blank_image(int width, int height) {
  ImageU8 image;
  image.width = width;
  image.height = height;
  image.rgb.resize(size_t(width) * size_t(height) * kChannels);
  return image;
}

// The pixels of `in` inside `window`.
ImageU8 copy_window(const ImageU8& in, const PixelWindow& window) {
  ImageU8 out = blank_image(window.width, window.height);
  const size_t row_bytes = size_t(window.width) * kChannels;
  for (int y = 0; y < window.height; ++y) {
    const uint8_t* source = &in.rgb[(size_t(window.top + y) * size_t(in.width) + size_t(window.left)) * kChannels];
    std::copy(source, source + row_bytes, &out.rgb[size_t(y) * row_bytes]);
  }
  return out;
}

// Resamples the rows of `in` inside `source` horizontally, one output column per kernel entry (kernel columns are
// relative to source.left).
ImageU8 resample_rows(const ImageU8& in, const PixelWindow& source, const AxisKernel& kernel) {
  ImageU8 out = blank_image(int(kernel.first.size()), source.height);
  const size_t in_stride = size_t(in.width) * kChannels;
  const size_t out_stride = size_t(out.width) * kChannels;
  for (int y = 0; y < source.height; ++y) {
    const uint8_t* in_row = &in.rgb[size_t(source.top + y) * in_stride + size_t(source.left) * kChannels];
    uint8_t* out_row = &out.rgb[size_t(y) * out_stride];
    for (int x = 0; x < out.width; ++x) {
      const int32_t* weights = &kernel.weights[size_t(x) * size_t(kernel.taps)];
      const uint8_t* pixel = in_row + size_t(kernel.first[size_t(x)]) * kChannels;
      int32_t r = kRoundingHalf, g = kRoundingHalf, b = kRoundingHalf;
      for (int k = 0; k < kernel.count[size_t(x)]; ++k) {
        r += pixel[3 * k] * weights[k];
        g += pixel[3 * k + 1] * weights[k];
        b += pixel[3 * k + 2] * weights[k];
      }
      out_row[3 * x] = fixed_point_to_u8(r);
      out_row[3 * x + 1] = fixed_point_to_u8(g);
      out_row[3 * x + 2] = fixed_point_to_u8(b);
    }
  }
  return out;
}

// Resamples `in` vertically, one output row per kernel entry; kernel rows are relative to in's first row.
ImageU8 resample_columns(const ImageU8& in, const AxisKernel& kernel) {
  ImageU8 out = blank_image(in.width, int(kernel.first.size()));
  const size_t stride = size_t(in.width) * kChannels;
  std::vector<int32_t> sums(stride);
  for (int y = 0; y < out.height; ++y) {
    std::fill(sums.begin(), sums.end(), kRoundingHalf);
    const int32_t* weights = &kernel.weights[size_t(y) * size_t(kernel.taps)];
    for (int k = 0; k < kernel.count[size_t(y)]; ++k) {
      const uint8_t* in_row = &in.rgb[size_t(kernel.first[size_t(y)] + k) * stride];
      const int32_t weight = weights[k];
      for (size_t i = 0; i < stride; ++i) sums[i] += in_row[i] * weight;
    }
    uint8_t* out_row = &out.rgb[size_t(y) * stride];
    for (size_t i = 0; i < stride; ++i) out_row[i] = fixed_point_to_u8(sums[i]);
  }
  return out;
}

// PIL's two passes, horizontal first into an 8-bit intermediate holding only the input rows the
// vertical pass reads; a pass is skipped when its dimension keeps its size.
ImageU8 resample_separable(const ImageU8& image, const SeparableResize& plan) {
  const ImageU8 rows = plan.horizontal_copies ? copy_window(image, plan.source)
                                              : resample_rows(image, plan.source, plan.horizontal);
  return plan.vertical_copies ? rows : resample_columns(rows, plan.vertical);
}

ImageU8 resample_nearest(const ImageU8& image, int out_width, int out_height, const PixelWindow& window) {
  const std::vector<int> columns = nearest_sources(image.width, out_width, window.left, window.left + window.width);
  const std::vector<int> rows = nearest_sources(image.height, out_height, window.top, window.top + window.height);
  ImageU8 out = blank_image(window.width, window.height);
  uint8_t* target = out.rgb.data();
  for (int row : rows) {
    const uint8_t* in_row = &image.rgb[size_t(row) * size_t(image.width) * kChannels];
    for (int column : columns) {
      const uint8_t* source = in_row + size_t(column) * kChannels;
      target[0] = source[0];
      target[1] = source[1];
      target[2] = source[2];
      target += kChannels;
    }
  }
  return out;
}

void check_sizes(int in_width, int in_height, int out_width, int out_height, const PixelWindow& window) {
  if (in_width <= 0 || in_height <= 0) fail("resize", "invalid input size {}x{}", in_width, in_height);
  if (out_width <= 0 || out_height <= 0) fail("resize", "invalid output size {}x{}", out_width, out_height);
  const bool inside = window.left >= 0 && window.top >= 0 && window.width > 0 && window.height > 0 &&
                      window.left <= out_width - window.width && window.top <= out_height - window.height;
  if (!inside) {
    fail("resize", "window {}x{} at ({}, {}) is not inside the {}x{} output", window.width, window.height, window.left,
         window.top, out_width, out_height);
  }
  if (int64_t(window.width) * window.height > kMaxImagePixels) {
    fail("resize", "output of {}x{} pixels is too large", window.width, window.height);
  }
}

}  // namespace

AxisKernel filter_axis_kernel(int in_size, int out_size, int out_begin, int out_end, Interpolation interpolation) {
  const Filter filter = filter_for(interpolation);
  const double scale = double(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter.support * filter_scale;
  const double inverse_filter_scale = 1.0 / filter_scale;
  const size_t outputs = size_t(out_end - out_begin);
  AxisKernel kernel;
  kernel.taps = int(std::ceil(support)) * 2 + 1;
  kernel.first.resize(outputs);
  kernel.count.resize(outputs);
  kernel.weights.assign(outputs * size_t(kernel.taps), 0);
  std::vector<double> weights(static_cast<size_t>(kernel.taps));
  for (size_t i = 0; i < outputs; ++i) {
    const double center = (out_begin + int(i) + 0.5) * scale;
    const int first = std::max(int(center - support + 0.5), 0);
    const int end = std::min(int(center + support + 0.5), in_size);
    const int count = std::max(end - first, 0);
    double sum = 0.0;
    for (int k = 0; k < count; ++k) {
      weights[size_t(k)] = filter.weight((k + first - center + 0.5) * inverse_filter_scale);
      sum += weights[size_t(k)];
    }
    int32_t* fixed = &kernel.weights[i * size_t(kernel.taps)];
    for (int k = 0; k < count; ++k)
      fixed[k] = to_fixed_point(sum != 0.0 ? weights[size_t(k)] / sum : weights[size_t(k)]);
    kernel.first[i] = first;
    kernel.count[i] = count;
  }
  return kernel;
}

// Source index of each output pixel in [out_begin, out_end): PIL steps a double through
// (x + 0.5) * scale from the first pixel, so the steps are repeated to get the same roundings.
std::vector<int> nearest_sources(int in_size, int out_size, int out_begin, int out_end) {
  const double scale = double(in_size) / out_size;
  std::vector<int> sources;
  sources.reserve(size_t(out_end - out_begin));
  double position = scale * 0.5;
  for (int i = 0; i < out_end; ++i, position += scale) {
    if (i >= out_begin) sources.push_back(std::min(int(position), in_size - 1));
  }
  return sources;
}

SeparableResize plan_separable_resize(int in_width, int in_height, int out_width, int out_height,
                                      Interpolation interpolation, const PixelWindow& window) {
  check_sizes(in_width, in_height, out_width, out_height, window);
  const int right = window.left + window.width, bottom = window.top + window.height;
  SeparableResize plan;
  plan.window = window;
  if (interpolation == Interpolation::Nearest) {
    plan.horizontal = one_tap_kernel(nearest_sources(in_width, out_width, window.left, right));
    plan.vertical = one_tap_kernel(nearest_sources(in_height, out_height, window.top, bottom));
  } else {
    plan.horizontal_copies = out_width == in_width;
    plan.vertical_copies = out_height == in_height;
    plan.horizontal = plan.horizontal_copies
                          ? one_tap_kernel(index_run(window.left, right))
                          : filter_axis_kernel(in_width, out_width, window.left, right, interpolation);
    plan.vertical = plan.vertical_copies
                        ? one_tap_kernel(index_run(window.top, bottom))
                        : filter_axis_kernel(in_height, out_height, window.top, bottom, interpolation);
  }
  int source_right = 0, source_bottom = 0;
  rebase(plan.horizontal, plan.source.left, source_right);
  rebase(plan.vertical, plan.source.top, source_bottom);
  plan.source.width = source_right - plan.source.left;
  plan.source.height = source_bottom - plan.source.top;
  return plan;
}

ImageU8 resize_pil_window(const ImageU8& image, int out_width, int out_height, Interpolation interpolation,
                          const PixelWindow& window) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != size_t(image.width) * size_t(image.height) * kChannels) {
    fail("resize", "invalid input image {}x{} with {} bytes", image.width, image.height, image.rgb.size());
  }
  if (interpolation == Interpolation::Nearest) {
    check_sizes(image.width, image.height, out_width, out_height, window);
    return resample_nearest(image, out_width, out_height, window);
  }
  return resample_separable(image, plan_separable_resize(image.width, image.height, out_width, out_height,
                                                         interpolation, window));
}

ImageU8 resize_pil(const ImageU8& image, int out_width, int out_height, Interpolation interpolation) {
  return resize_pil_window(image, out_width, out_height, interpolation, {0, 0, out_width, out_height});
}

}  // namespace distrvit
