#include "patch_staging.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "float16.h"
#include "parallel_for.h"

namespace distrvit {
namespace {

// convert(src, src_stride, dst, dst_stride, rows, cols) writes a [rows, cols] block of Out.
template <typename Out, typename Convert>
void stage(const float* images, Out* cols, int batch, int channels, int height, int width, int patch, int threads,
           Convert convert) {
  const int gh = height / patch, gw = width / patch;
  const int64_t row_len = int64_t(channels) * patch * patch, patches = int64_t(gh) * gw;
  // A thread costs more to start than a few images take to stage: at most one per 4 images.
  threads = std::max(1, std::min(threads <= 0 ? batch : threads, batch / 4));
  parallel_for(size_t(batch) * gh, threads, [&](size_t item) {  // one row of patches of one image
    const int64_t b = int64_t(item) / gh;
    const int py = int(int64_t(item) % gh);
    const float* image = images + b * channels * height * int64_t(width);
    for (int px = 0; px < gw; ++px) {
      Out* row = cols + (b * patches + int64_t(py) * gw + px) * row_len;
      for (int c = 0; c < channels; ++c)  // the patch's [P, P] block of channel c
        convert(image + (int64_t(c) * height + py * patch) * width + int64_t(px) * patch, ptrdiff_t(width),
                row + int64_t(c) * patch * patch, ptrdiff_t(patch), patch, size_t(patch));
    }
  });
}

}  // namespace

void stage_patches(const float* images, void* cols, Precision precision, int batch, int channels, int height,
                   int width, int patch, int threads) {
  switch (precision) {
    case Precision::F32:
      stage(images, static_cast<float*>(cols), batch, channels, height, width, patch, threads,
            [](const float* src, ptrdiff_t src_stride, float* dst, ptrdiff_t dst_stride, int rows, size_t count) {
              for (int r = 0; r < rows; ++r)
                std::memcpy(dst + r * dst_stride, src + r * src_stride, count * sizeof(float));
            });
      break;
    case Precision::F16:
      stage(images, static_cast<uint16_t*>(cols), batch, channels, height, width, patch, threads, float_rows_to_f16);
      break;
    case Precision::BF16:
      stage(images, static_cast<uint16_t*>(cols), batch, channels, height, width, patch, threads, float_rows_to_bf16);
      break;
  }
}

}  // namespace distrvit
