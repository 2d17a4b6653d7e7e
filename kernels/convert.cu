// Element-wise storage conversions. Memory-bound: one read and one write per element.
#include "convert.h"
#include "cuda_check.h"
#include "dtype_util.cuh"

namespace distrvit::cuda {
namespace {

template <typename Src, typename Dst>
__global__ void convert_kernel(const Src* __restrict__ src, Dst* __restrict__ dst, int64_t count) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    dst[i] = from_float<Dst>(to_float<Src>(src[i]));
}

}  // namespace

void convert_from_f32(const float* src, void* dst, DataType dst_type, int64_t count, cudaStream_t stream) {
  if (count <= 0) return;
  constexpr int kThreads = 256;
  DISTRVIT_DISPATCH_DTYPE(dst_type, T,
    convert_kernel<float, T><<<grid_for(count, kThreads), kThreads, 0, stream>>>(src, static_cast<T*>(dst), count));
  CUDA_CHECK_LAUNCH();
}

void convert_to_f32(const void* src, DataType src_type, float* dst, int64_t count, cudaStream_t stream) {
  if (count <= 0) return;
  constexpr int kThreads = 256;
  DISTRVIT_DISPATCH_DTYPE(src_type, T,
    convert_kernel<T, float><<<grid_for(count, kThreads), kThreads, 0, stream>>>(static_cast<const T*>(src), dst, count));
  CUDA_CHECK_LAUNCH();
}

}  // namespace distrvit::cuda
