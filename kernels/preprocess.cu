// Two kernels, one grid row (blockIdx.y) per image, threads striding over that image's outputs:
//   horizontal_pass: source rows -> visible_width columns into the 8-bit intermediate;
//   vertical_normalize_pass: every input pixel, from the intermediate's columns inside the visible window or from
//   the fill colour outside it, normalized to float32 CHW.
// The fixed-point sums are the CPU resampler's (resize_pil.cpp) term for term, in int32, so pixels are identical.
#include "cuda_check.h"
#include "dtype_util.cuh"
#include "preprocess.h"

namespace distrvit::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int32_t kRoundingHalf = 1 << (kPreprocessPrecisionBits - 1);
constexpr int kChannels = 3;

__device__ __forceinline__ uint8_t fixed_point_to_u8(int32_t accumulator) {
  const int32_t value = accumulator >> kPreprocessPrecisionBits;
  return static_cast<uint8_t>(min(max(value, 0), 255));
}

// A filter table in the uploaded buffer (layout in preprocess.h).
struct Table {
  const int32_t* first;
  const int32_t* count;
  const int32_t* weights;
  int taps;

  __device__ Table(const uint8_t* uploaded, int64_t offset, int outputs, int table_taps)
      : first(reinterpret_cast<const int32_t*>(uploaded + offset)), count(first + outputs),
        weights(count + outputs), taps(table_taps) {}
};

__global__ void horizontal_pass(PreprocessBatch batch) {
  const PreprocessImage image = batch.images[blockIdx.y];
  const Table table(batch.uploaded, image.horizontal, image.visible_width, image.horizontal_taps);
  const uint8_t* pixels = batch.uploaded + image.pixels;      // [source_height, source_width, 3]
  uint8_t* out = batch.intermediate + image.intermediate;     // [source_height, visible_width, 3]
  const int64_t outputs = int64_t(image.source_height) * image.visible_width;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs; i += int64_t(gridDim.x) * blockDim.x) {
    const int x = int(i % image.visible_width);
    const int64_t row = i / image.visible_width;
    const uint8_t* source = pixels + (row * image.source_width + table.first[x]) * kChannels;
    const int32_t* weights = table.weights + int64_t(x) * table.taps;
    int32_t r = kRoundingHalf, g = kRoundingHalf, b = kRoundingHalf;
    for (int k = 0; k < table.count[x]; ++k) {
      r += source[3 * k] * weights[k];
      g += source[3 * k + 1] * weights[k];
      b += source[3 * k + 2] * weights[k];
    }
    out[3 * i] = fixed_point_to_u8(r);
    out[3 * i + 1] = fixed_point_to_u8(g);
    out[3 * i + 2] = fixed_point_to_u8(b);
  }
}

__global__ void vertical_normalize_pass(PreprocessBatch batch) {
  const PreprocessImage image = batch.images[blockIdx.y];
  const Table table(batch.uploaded, image.vertical, image.visible_height, image.vertical_taps);
  const uint8_t* rows = batch.intermediate + image.intermediate;  // [source_height, visible_width, 3]
  const int64_t row_bytes = int64_t(image.visible_width) * kChannels;
  const int64_t plane = int64_t(batch.height) * batch.width;
  float* out = batch.out + int64_t(blockIdx.y) * kChannels * plane;  // [3, height, width]
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < plane; i += int64_t(gridDim.x) * blockDim.x) {
    const int x = int(i % batch.width) - image.paste_left;
    const int y = int(i / batch.width) - image.paste_top;
    uint8_t rgb[kChannels] = {image.fill[0], image.fill[1], image.fill[2]};
    if (x >= 0 && x < image.visible_width && y >= 0 && y < image.visible_height) {
      const uint8_t* source = rows + table.first[y] * row_bytes + int64_t(x) * kChannels;
      const int32_t* weights = table.weights + int64_t(y) * table.taps;
      int32_t sums[kChannels] = {kRoundingHalf, kRoundingHalf, kRoundingHalf};
      for (int k = 0; k < table.count[y]; ++k) {
        for (int c = 0; c < kChannels; ++c) sums[c] += source[k * row_bytes + c] * weights[k];
      }
      for (int c = 0; c < kChannels; ++c) rgb[c] = fixed_point_to_u8(sums[c]);
    }
    // The float32 operations of normalize_into: x / 255, then (x - mean) / std, each rounded to nearest.
    for (int c = 0; c < kChannels; ++c) out[c * plane + i] = (float(rgb[c]) / 255.0f - batch.mean[c]) / batch.std[c];
  }
}

}  // namespace

void preprocess_images(const PreprocessBatch& batch, cudaStream_t stream) {
  if (batch.batch <= 0) return;
  if (batch.batch > kMaxPreprocessBatch) {
    fail("preprocess", "a batch of {} images is more than the GPU preprocessing's {}", batch.batch,
         kMaxPreprocessBatch);
  }
  constexpr int64_t kMaxBlocksPerImage = 1024;
  if (batch.max_intermediate_pixels > 0) {
    const dim3 grid(grid_for(batch.max_intermediate_pixels, kThreads, kMaxBlocksPerImage), unsigned(batch.batch));
    horizontal_pass<<<grid, kThreads, 0, stream>>>(batch);
    CUDA_CHECK_LAUNCH();
  }
  const dim3 grid(grid_for(int64_t(batch.height) * batch.width, kThreads, kMaxBlocksPerImage), unsigned(batch.batch));
  vertical_normalize_pass<<<grid, kThreads, 0, stream>>>(batch);
  CUDA_CHECK_LAUNCH();
}

}  // namespace distrvit::cuda
