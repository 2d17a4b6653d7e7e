// Batched image preprocessing on the GPU: PIL-exact resize (two 8-bit fixed-point passes) of the part of each image
// that survives the crop, paste into a filled canvas, normalize into the model input [B, 3, H, W] float32.
// The host plans everything (engine/src/cuda_preprocess.cpp with resize_crop_plan.h and resize_coefficients.h, the
// CPU path's own code) and uploads one buffer holding the descriptors, filter tables and pixels.
// CPU reference: distrvit::preprocess (distrvit/preprocess.h); tested in tests/gpu/test_preprocess_gpu.cpp.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace distrvit::cuda {

// One image of a batch. Offsets are in bytes: `pixels`, `horizontal` and `vertical` from the start of the uploaded
// buffer (tables 4-byte aligned), `intermediate` from the start of the scratch buffer.
// A table of n outputs and t taps is int32 first[n], count[n], weights[n, t]; output i is
//   clamp((2^(bits-1) + sum_{k < count[i]} in[first[i] + k] * weights[i, k]) >> bits, 0, 255),
// bits = kPreprocessPrecisionBits.
constexpr int kPreprocessPrecisionBits = 22;  // the CPU resampler's kResizePrecisionBits (checked where staged)

struct PreprocessImage {
  int64_t pixels = 0;        // RGB8 [source_height, source_width, 3]: the input pixels the passes read
  int64_t horizontal = 0;    // visible_width outputs, first[] relative to the source's left column
  int64_t vertical = 0;      // visible_height outputs, first[] relative to the source's top row
  int64_t intermediate = 0;  // RGB8 [source_height, visible_width, 3]: the horizontal pass's output
  int source_width = 0;
  int source_height = 0;
  int horizontal_taps = 0;
  int vertical_taps = 0;
  int visible_width = 0;   // resized pixels that survive the crop ...
  int visible_height = 0;
  int paste_left = 0;      // ... and where their top-left corner lands in the input
  int paste_top = 0;
  uint8_t fill[3] = {0, 0, 0};  // the input's pixels outside the visible ones
};

struct PreprocessBatch {
  const uint8_t* uploaded = nullptr;        // device copy of the staged buffer
  const PreprocessImage* images = nullptr;  // [batch], inside `uploaded`
  uint8_t* intermediate = nullptr;          // scratch
  float* out = nullptr;                     // [batch, 3, height, width]
  int batch = 0;                            // at most kMaxPreprocessBatch
  int height = 0;
  int width = 0;
  int64_t max_intermediate_pixels = 0;  // the largest source_height * visible_width of the batch (sizes the grid)
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
};

constexpr int kMaxPreprocessBatch = 65535;  // one grid row per image

// Both passes on `stream`; out[b, c, y, x] = (float(pixel) / 255 - mean[c]) / std[c], as normalize_into computes.
void preprocess_images(const PreprocessBatch& batch, cudaStream_t stream);

}  // namespace distrvit::cuda
