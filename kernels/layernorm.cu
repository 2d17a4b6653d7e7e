// LayerNorm (+ residual add), one warp per row, the row held in registers.
//
// Versions: kVec = 8 (16-byte loads of 16-bit data, two float4 loads of the residual) when dim % 8 == 0
// and the pointers are aligned; kVec = 1 (scalar, any dim) otherwise. kIters chunks per lane, chosen from
// a few buckets so that one template serves dims up to 2048. Two-pass variance over the registers.
#include "cuda_check.h"
#include "dtype_util.cuh"
#include "layernorm.h"
#include "pdl.cuh"

namespace distrvit::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;

template <typename T, int kVec, int kIters>
__global__ void __launch_bounds__(kWarpsPerBlock * 32) layernorm_kernel(LayerNormParams p) {
  wait_then_release_next_kernel();
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= p.rows) return;
  const int dim = p.dim;
  const int64_t x_offset = int64_t(row / p.group) * p.group_stride + int64_t(row % p.group) * dim;
  const float* x = p.x + x_offset;
  const T* y = p.y ? static_cast<const T*>(p.y) + int64_t(row / p.group) * p.y_group_stride +
                         int64_t(row % p.group) * dim
                   : nullptr;
  float* x_out = p.x_out ? p.x_out + x_offset : nullptr;

  float v[kIters][kVec];
  float sum = 0.0f;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int c = (lane + 32 * it) * kVec;
    if (c < dim) {
      Pack<float, kVec> xp = *reinterpret_cast<const Pack<float, kVec>*>(x + c);
      if (y) {
        Pack<T, kVec> yp = *reinterpret_cast<const Pack<T, kVec>*>(y + c);
#pragma unroll
        for (int e = 0; e < kVec; ++e) xp.v[e] += to_float(yp.v[e]);
      }
      if (x_out) *reinterpret_cast<Pack<float, kVec>*>(x_out + c) = xp;
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        v[it][e] = xp.v[e];
        sum += xp.v[e];
      }
    } else {
#pragma unroll
      for (int e = 0; e < kVec; ++e) v[it][e] = 0.0f;
    }
  }
  const float mean = warp_sum(sum) / dim;
  float sq = 0.0f;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int c = (lane + 32 * it) * kVec;
    if (c < dim) {
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        const float d = v[it][e] - mean;
        sq += d * d;
      }
    }
  }
  const float rstd = rsqrtf(warp_sum(sq) / dim + p.eps);

  T* out = static_cast<T*>(p.out) + int64_t(row) * dim;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int c = (lane + 32 * it) * kVec;
    if (c < dim) {
      const Pack<float, kVec> wp = *reinterpret_cast<const Pack<float, kVec>*>(p.weight + c);
      const Pack<float, kVec> bp = *reinterpret_cast<const Pack<float, kVec>*>(p.bias + c);
      Pack<T, kVec> op;
#pragma unroll
      for (int e = 0; e < kVec; ++e) op.v[e] = from_float<T>((v[it][e] - mean) * rstd * wp.v[e] + bp.v[e]);
      *reinterpret_cast<Pack<T, kVec>*>(out + c) = op;
    }
  }
}

template <typename T, int kVec, int kIters>
void launch(const LayerNormParams& p, cudaStream_t stream) {
  const unsigned blocks = (p.rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  launch_dependent(layernorm_kernel<T, kVec, kIters>, blocks, kWarpsPerBlock * 32, 0, stream, p);
}

template <typename T>
void dispatch(const LayerNormParams& p, cudaStream_t stream) {
  const bool vec = p.dim % 8 == 0 && aligned_to(p.x, 32) && (!p.x_out || aligned_to(p.x_out, 32)) &&
                   aligned_to(p.weight, 32) && aligned_to(p.bias, 32) && (!p.y || aligned_to(p.y, 16)) &&
                   aligned_to(p.out, 16) && p.group_stride % 8 == 0 &&
                   p.y_group_stride % 8 == 0;
  if (vec) {
    const int iters = (p.dim + 255) / 256;  // chunks of 8 per lane
    if (iters <= 1) return launch<T, 8, 1>(p, stream);
    if (iters <= 2) return launch<T, 8, 2>(p, stream);
    if (iters <= 3) return launch<T, 8, 3>(p, stream);
    if (iters <= 4) return launch<T, 8, 4>(p, stream);
    if (iters <= 6) return launch<T, 8, 6>(p, stream);
    if (iters <= 8) return launch<T, 8, 8>(p, stream);
  } else {
    const int iters = (p.dim + 31) / 32;
    if (iters <= 2) return launch<T, 1, 2>(p, stream);
    if (iters <= 8) return launch<T, 1, 8>(p, stream);
    if (iters <= 32) return launch<T, 1, 32>(p, stream);
    if (iters <= 64) return launch<T, 1, 64>(p, stream);
  }
  fail("layernorm", "dim {} is over the supported 2048", p.dim);
}

}  // namespace

void layernorm(const LayerNormParams& params, cudaStream_t stream) {
  if (params.rows <= 0) return;
  LayerNormParams p = params;
  if (p.group < 1) p.group = 1;
  if (p.group_stride == 0) p.group_stride = int64_t(p.dim) * p.group;
  if (p.y_group_stride == 0) p.y_group_stride = int64_t(p.dim) * p.group;
  DISTRVIT_DISPATCH_DTYPE(p.dtype, T, dispatch<T>(p, stream));
  CUDA_CHECK_LAUNCH();
}

}  // namespace distrvit::cuda
