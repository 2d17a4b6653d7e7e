// Unfused attention, for debugging and as a second GPU opinion: three plain kernels through an fp32
// score matrix in `workspace` [B, H, N, N].
//   1. scores:  S = scale * Q K^T        16x16 smem tiles, fp32 accumulation
//   2. softmax: row-wise, in place        one block per row (max, exp, sum, divide)
//   3. output:  O = P V                   16x16 smem tiles, fp32 accumulation, rounded to the dtype once
// CPU reference: attention_exact_cpu; tested in tests/gpu/test_attention_gpu.cpp ("attention: naive ...").
#include <cmath>

#include "attention_common.cuh"
#include "cuda_check.h"
#include "dtype_util.cuh"

namespace distrvit::cuda {
namespace {

constexpr int kTile = 16;

struct HeadPtrs {
  int64_t qkv_off, out_off;
};
__device__ __forceinline__ HeadPtrs head_offsets(const AttentionDeviceParams& p, int bh) {
  const int b = bh / p.heads, h = bh % p.heads;
  return {int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride,
          int64_t(b) * p.out_batch_stride + int64_t(h) * p.out_head_stride};
}

// grid (ceil(N/16) key tiles, ceil(N/16) query tiles, B*H), block (16, 16).
template <typename T>
__global__ void scores_kernel(const AttentionDeviceParams p, float* __restrict__ scores, int bh0) {
  __shared__ float sq[kTile][kTile + 1], sk[kTile][kTile + 1];
  const int bh = bh0 + blockIdx.z;
  const int N = p.tokens, D = p.head_dim;
  const int i = blockIdx.y * kTile + threadIdx.y;  // query
  const int j = blockIdx.x * kTile + threadIdx.x;  // key
  const int64_t off = head_offsets(p, bh).qkv_off;
  const T* q = static_cast<const T*>(p.q) + off;
  const T* k = static_cast<const T*>(p.k) + off;
  const int kj = blockIdx.x * kTile + threadIdx.y;  // key row this thread loads
  float acc = 0.0f;
  for (int d0 = 0; d0 < D; d0 += kTile) {
    const int d = d0 + threadIdx.x;
    sq[threadIdx.y][threadIdx.x] = (i < N && d < D) ? to_float(q[int64_t(i) * p.qkv_token_stride + d]) : 0.0f;
    sk[threadIdx.y][threadIdx.x] = (kj < N && d < D) ? to_float(k[int64_t(kj) * p.qkv_token_stride + d]) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int e = 0; e < kTile; ++e) acc += sq[threadIdx.y][e] * sk[threadIdx.x][e];
    __syncthreads();
  }
  if (i < N && j < N) scores[(int64_t(bh) * N + i) * N + j] = acc * p.scale;
}

// One block per row of the [rows, N] score matrix.
__global__ void softmax_rows_kernel(float* __restrict__ scores, int N) {
  __shared__ float partial[32];
  float* row = scores + int64_t(blockIdx.x) * N;
  const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  auto block_reduce = [&](float v, bool is_max) {
    for (int o = 16; o > 0; o >>= 1) {
      const float other = __shfl_xor_sync(0xffffffffu, v, o);
      v = is_max ? fmaxf(v, other) : v + other;
    }
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float r = is_max ? -INFINITY : 0.0f;
    for (int w = 0; w < warps; ++w) r = is_max ? fmaxf(r, partial[w]) : r + partial[w];
    __syncthreads();  // partial[] is reused by the next reduction
    return r;
  };
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < N; j += blockDim.x) mx = fmaxf(mx, row[j]);
  mx = block_reduce(mx, true);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < N; j += blockDim.x) {
    const float e = expf(row[j] - mx);
    row[j] = e;
    sum += e;
  }
  const float inv = 1.0f / block_reduce(sum, false);
  for (int j = threadIdx.x; j < N; j += blockDim.x) row[j] *= inv;
}

// grid (ceil(D/16), ceil(N/16), B*H), block (16, 16): O[i][c] = sum_j P[i][j] V[j][c].
template <typename T>
__global__ void pv_kernel(const AttentionDeviceParams p, const float* __restrict__ probs, int bh0) {
  __shared__ float sp[kTile][kTile + 1], sv[kTile][kTile + 1];
  const int bh = bh0 + blockIdx.z;
  const int N = p.tokens, D = p.head_dim;
  const int i = blockIdx.y * kTile + threadIdx.y;  // query row
  const int c = blockIdx.x * kTile + threadIdx.x;  // output column
  const HeadPtrs off = head_offsets(p, bh);
  const T* v = static_cast<const T*>(p.v) + off.qkv_off;
  const float* prow = probs + int64_t(bh) * N * N;
  float acc = 0.0f;
  for (int j0 = 0; j0 < N; j0 += kTile) {
    const int jp = j0 + threadIdx.x, jv = j0 + threadIdx.y;
    sp[threadIdx.y][threadIdx.x] = (i < N && jp < N) ? prow[int64_t(i) * N + jp] : 0.0f;
    sv[threadIdx.y][threadIdx.x] = (jv < N && c < D) ? to_float(v[int64_t(jv) * p.qkv_token_stride + c]) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int e = 0; e < kTile; ++e) acc += sp[threadIdx.y][e] * sv[e][threadIdx.x];
    __syncthreads();
  }
  if (i < N && c < D)
    static_cast<T*>(p.out)[off.out_off + int64_t(i) * p.out_token_stride + c] = from_float<T>(acc);
}

template <typename T>
void launch_naive(const AttentionDeviceParams& p, float* scores, cudaStream_t stream) {
  const int N = p.tokens, bh_total = p.batch * p.heads;
  const unsigned tiles_n = (N + kTile - 1) / kTile, tiles_d = (p.head_dim + kTile - 1) / kTile;
  if (tiles_n > 65535) fail("attention_naive", "N = {} too large", N);
  const dim3 block(kTile, kTile);
  for_each_head_chunk(bh_total, [&](int bh0, int heads) {
    scores_kernel<T><<<dim3(tiles_n, tiles_n, heads), block, 0, stream>>>(p, scores, bh0);
    CUDA_CHECK_LAUNCH();
  });
  const int64_t rows = int64_t(bh_total) * N;
  if (rows > 0x7fffffffLL) fail("attention_naive", "too many rows ({})", rows);
  softmax_rows_kernel<<<unsigned(rows), 256, 0, stream>>>(scores, N);
  CUDA_CHECK_LAUNCH();
  for_each_head_chunk(bh_total, [&](int bh0, int heads) {
    pv_kernel<T><<<dim3(tiles_d, tiles_n, heads), block, 0, stream>>>(p, scores, bh0);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

size_t naive_workspace_bytes(const AttentionDeviceParams& p) {
  return size_t(p.batch) * p.heads * p.tokens * p.tokens * sizeof(float);
}

void attention_naive(const AttentionDeviceParams& p, void* workspace, cudaStream_t stream) {
  check_attention_params(p, "attention_naive");
  if (int64_t(p.batch) * p.heads * p.tokens == 0) return;
  if (!workspace) fail("attention_naive", "null workspace ({} bytes needed)", naive_workspace_bytes(p));
  float* scores = static_cast<float*>(workspace);  // [B, H, N, N]
  DISTRVIT_DISPATCH_DTYPE(p.dtype, T, launch_naive<T>(p, scores, stream));
}

}  // namespace distrvit::cuda
