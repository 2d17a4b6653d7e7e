// Key splits of the fused exact kernel (SplitKv in attention_common.cuh): the partial epilogue each split block
// runs instead of store_output_rows, and the kernel that merges the splits into the output.
// Included by attention_exact.cuh only.
#pragma once
#include <cuda_runtime.h>

#include <cmath>

#include "attention_common.cuh"
#include "cuda_check.h"
#include "dtype_util.cuh"

namespace distrvit::cuda::flash {

// Split `split_index`'s rows of one (b, h) (first flat row `row_base` = bh * N): O / l as fp32 and (max, l).
// acc_o / row_max / row_sum are in the fused kernel's mma accumulator layout (see store_output_rows).
template <int MT, int D>
__device__ __forceinline__ void store_split_rows(const float (&acc_o)[MT][D / 8][4], const float (&row_max)[MT][2],
                                                 const float (&row_sum)[MT][2], const SplitKv& split,
                                                 int split_index, int64_t row_base, int warp_row0, int lane,
                                                 int first_row, int row_limit) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float l = quad_sum(row_sum[mt][r]);
      const int row = first_row + warp_row0 + mt * 16 + (lane >> 2) + 8 * r;
      if (row >= row_limit) continue;
      const int64_t flat = int64_t(split_index) * split.rows + row_base + row;
      const float inv = 1.0f / l;
      float* out = split.out + flat * D;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        const int col = dt * 8 + 2 * (lane & 3);
        *reinterpret_cast<float2*>(out + col) = make_float2(acc_o[mt][dt][2 * r] * inv, acc_o[mt][dt][2 * r + 1] * inv);
      }
      if ((lane & 3) == 0) split.stats[flat] = make_float2(row_max[mt][r], l);
    }
  }
}

// One warp per output row (b, h, n): out = sum_z w_z O_z / sum_z w_z with w_z = l_z * 2^((m_z - m) * scale_log2).
template <typename T, int kPerLane>
__global__ void combine_splits_kernel(const AttentionDeviceParams p, const SplitKv split, const float scale_log2) {
  constexpr int kWarps = 4;
  const int lane = threadIdx.x % 32;
  const int64_t flat = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;  // bh * N + n
  if (flat >= split.rows) return;
  const int D = p.head_dim;
  float m = -INFINITY;
  for (int z = 0; z < split.splits; ++z) m = fmaxf(m, split.stats[z * split.rows + flat].x);
  float total = 0.0f, acc[kPerLane] = {};
  for (int z = 0; z < split.splits; ++z) {
    const float2 stats = split.stats[z * split.rows + flat];
    const float w = stats.y * exp2f((stats.x - m) * scale_log2);
    total += w;
    const float* o = split.out + (z * split.rows + flat) * D;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i)
      if (lane + 32 * i < D) acc[i] += w * o[lane + 32 * i];
  }
  const int n = int(flat % p.tokens);
  const int bh = int(flat / p.tokens);
  T* out = static_cast<T*>(p.out) + int64_t(bh / p.heads) * p.out_batch_stride +
           int64_t(bh % p.heads) * p.out_head_stride + int64_t(n) * p.out_token_stride;
  const float inv = 1.0f / total;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i)
    if (lane + 32 * i < D) out[lane + 32 * i] = from_float<T>(acc[i] * inv);
}

template <typename T>
void combine_splits(const AttentionDeviceParams& p, const SplitKv& split, cudaStream_t stream) {
  const float scale_log2 = p.scale * 1.4426950408889634f;
  const int64_t blocks = (split.rows + 3) / 4;
  if (p.head_dim <= 64)
    combine_splits_kernel<T, 2><<<unsigned(blocks), 128, 0, stream>>>(p, split, scale_log2);
  else
    combine_splits_kernel<T, 4><<<unsigned(blocks), 128, 0, stream>>>(p, split, scale_log2);
  CUDA_CHECK_LAUNCH();
}

}  // namespace distrvit::cuda::flash
