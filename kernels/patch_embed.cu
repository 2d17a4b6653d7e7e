// im2col for non-overlapping patches: one thread per output element (consecutive threads read consecutive kx).
#include "cuda_check.h"
#include "dtype_util.cuh"
#include "patch_embed.h"

namespace distrvit::cuda {
namespace {

template <typename T>
__global__ void im2col_kernel(const float* __restrict__ image, T* __restrict__ cols, int batch, int channels,
                              int height, int width, int patch) {
  const int gh = height / patch, gw = width / patch;
  const int k = channels * patch * patch;
  const int64_t total = int64_t(batch) * gh * gw * k;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int col = int(i % k);
    const int64_t row = i / k;  // b * gh * gw + py * gw + px
    const int px = int(row % gw);
    const int py = int((row / gw) % gh);
    const int64_t b = row / (int64_t(gw) * gh);
    const int kx = col % patch;
    const int ky = (col / patch) % patch;
    const int c = col / (patch * patch);
    const int64_t src = ((b * channels + c) * height + (py * patch + ky)) * int64_t(width) + px * patch + kx;
    cols[i] = from_float<T>(image[src]);
  }
}

}  // namespace

void im2col_patches(const float* image, void* cols, DataType dtype, int batch, int channels, int height, int width,
                    int patch, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t total = int64_t(batch) * (height / patch) * (width / patch) * channels * patch * patch;
  if (total <= 0) return;
  DISTRVIT_DISPATCH_DTYPE(dtype, T,
    im2col_kernel<T><<<grid_for(total, kThreads), kThreads, 0, stream>>>(image, static_cast<T*>(cols), batch,
                                                                        channels, height, width, patch));
  CUDA_CHECK_LAUNCH();
}

}  // namespace distrvit::cuda
