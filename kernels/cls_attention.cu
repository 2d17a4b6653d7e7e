// Class-token attention probabilities for the GUI heat-map: probs[b, h, :] = softmax(scale * q_0 K^T),
// i.e. row 0 of the exact attention matrix of every (b, h), in fp32.
// One block per (b, h): q_0 in smem (fp32), one key per thread per pass; the logits are written to
// `probs` and normalised in place (each thread revisits only its own keys). Reads N*D elements of K
// per head: memory-bound and tiny next to the attention itself.
// CPU reference: softmax of row 0 as in attention_exact_cpu; tested in tests/gpu/test_attention_gpu.cpp
// ("attention: cls_attention_probs vs CPU reference").
#include <cmath>

#include "attention_common.cuh"
#include "cuda_check.h"
#include "dtype_util.cuh"

namespace distrvit::cuda {
namespace {

constexpr int kThreads = 256;

__device__ float block_reduce(float v, bool is_max, float* partial) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = is_max ? fmaxf(v, other) : v + other;
  }
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float r = is_max ? -INFINITY : 0.0f;
  for (int w = 0; w < kThreads / 32; ++w) r = is_max ? fmaxf(r, partial[w]) : r + partial[w];
  __syncthreads();
  return r;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) cls_probs_kernel(const AttentionDeviceParams p, float* __restrict__ probs,
                                                             int bh0) {
  extern __shared__ float sq[];  // [D] q_0 * scale
  __shared__ float partial[kThreads / 32];
  const int bh = bh0 + blockIdx.x;
  const int b = bh / p.heads, h = bh % p.heads;
  const int N = p.tokens, D = p.head_dim;
  const int64_t off = int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride;
  const T* q = static_cast<const T*>(p.q) + off;  // row 0
  const T* k = static_cast<const T*>(p.k) + off;
  float* out = probs + int64_t(bh) * N;  // [N]
  for (int d = threadIdx.x; d < D; d += kThreads) sq[d] = to_float(q[d]) * p.scale;
  __syncthreads();
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < N; j += kThreads) {
    const T* kj = k + int64_t(j) * p.qkv_token_stride;
    float dot = 0.0f;
    for (int d = 0; d < D; ++d) dot += sq[d] * to_float(kj[d]);
    out[j] = dot;
    mx = fmaxf(mx, dot);
  }
  mx = block_reduce(mx, true, partial);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < N; j += kThreads) {
    const float e = expf(out[j] - mx);
    out[j] = e;
    sum += e;
  }
  const float inv = 1.0f / block_reduce(sum, false, partial);
  for (int j = threadIdx.x; j < N; j += kThreads) out[j] *= inv;
}

}  // namespace

void cls_attention_probs(const AttentionDeviceParams& p, float* probs, cudaStream_t stream) {
  check_attention_params(p, "cls_attention_probs");
  const int bh_total = p.batch * p.heads;
  if (bh_total == 0 || p.tokens == 0) return;
  if (!probs) fail("cls_attention_probs", "null probs");
  const size_t smem = size_t(p.head_dim) * sizeof(float);
  for_each_head_chunk(bh_total, [&](int bh0, int heads) {
    DISTRVIT_DISPATCH_DTYPE(p.dtype, T, cls_probs_kernel<T><<<heads, kThreads, smem, stream>>>(p, probs, bh0));
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace distrvit::cuda
