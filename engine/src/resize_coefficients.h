// Internal: the per-axis filter tables of resize_pil_window (resize_pil.cpp), shared by the CPU resampler and the
// GPU preprocessing (cuda_preprocess.cpp uploads them), so both apply the same fixed-point coefficients.
#pragma once
#include <cstdint>
#include <vector>

#include "distrvit/preprocess.h"

namespace distrvit {

// Fixed-point fraction bits of the weights: 8 bits of pixel value and 2 bits of headroom left in an int32.
constexpr int kResizePrecisionBits = 32 - 8 - 2;
// A weight of exactly 1: a 1-tap kernel of this weight copies its source pixel unchanged.
constexpr int32_t kResizeUnitWeight = int32_t(1) << kResizePrecisionBits;

// How one axis is resampled for a run of output pixels: the i-th of them is
//   clamp((2^(bits-1) + sum_k in[first[i] + k] * weights[i * taps + k]) >> bits, 0, 255),  k < count[i].
struct AxisKernel {
  int taps = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;  // [outputs, taps] fixed point; entries past count are 0
};

// PIL's antialiased bilinear/bicubic kernels of output pixels [out_begin, out_end) when resampling in_size pixels
// to out_size (first[] indexes the whole input axis).
AxisKernel filter_axis_kernel(int in_size, int out_size, int out_begin, int out_end, Interpolation interpolation);

// PIL's nearest-neighbour source index of each output pixel in [out_begin, out_end).
std::vector<int> nearest_sources(int in_size, int out_size, int out_begin, int out_end);

// resize_pil_window as two 8-bit passes: the horizontal one turns the rows of `source` into window.width columns,
// the vertical one turns those rows into window.height rows. A pass PIL skips (its size is kept) is a 1-tap copy
// marked by *_copies, and nearest is 1-tap kernels on both axes: every case is exact as the formula above.
struct SeparableResize {
  PixelWindow window;     // in the resized image
  PixelWindow source;     // the input pixels the passes read
  AxisKernel horizontal;  // window.width outputs, first[] relative to source.left
  AxisKernel vertical;    // window.height outputs, first[] relative to source.top
  bool horizontal_copies = false;
  bool vertical_copies = false;
};

// Throws Error for an empty input, an empty or outside window, or a window over kMaxImagePixels.
SeparableResize plan_separable_resize(int in_width, int in_height, int out_width, int out_height,
                                      Interpolation interpolation, const PixelWindow& window);

}  // namespace distrvit
