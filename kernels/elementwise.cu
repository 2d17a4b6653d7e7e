// Element-wise kernels: bias + activation (in place), token assembly (prefix tokens + position embedding), the
// patch-mean pooling. All memory-bound; bias_activation moves 8 elements per thread when cols % 8 == 0.
#include "cuda_check.h"
#include "dtype_util.cuh"
#include "elementwise.h"
#include "pdl.cuh"

namespace distrvit::cuda {
namespace {

template <Activation kAct>
__device__ __forceinline__ float activate(float v) {
  if constexpr (kAct == Activation::GeluErf) {
    return gelu_erf(v);
  } else if constexpr (kAct == Activation::GeluTanh) {
    const float inner = 0.7978845608028654f * (v + 0.044715f * v * v * v);
    return 0.5f * v * (1.0f + tanhf(inner));
  } else {
    return v;
  }
}

// x [rows, cols]; each thread handles kVec consecutive elements of one row.
template <typename T, int kVec, Activation kAct>
__global__ void bias_activation_kernel(T* __restrict__ x, const T* __restrict__ bias, int64_t rows, int cols) {
  wait_then_release_next_kernel();
  const int vecs_per_row = cols / kVec;
  const int64_t total = rows * vecs_per_row;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int c = int(i % vecs_per_row) * kVec;
    const int64_t r = i / vecs_per_row;
    Pack<T, kVec>* ptr = reinterpret_cast<Pack<T, kVec>*>(x + r * cols + c);
    Pack<T, kVec> p = *ptr;
    Pack<T, kVec> b{};
    if (bias) b = *reinterpret_cast<const Pack<T, kVec>*>(bias + c);
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      float v = to_float(p.v[e]);
      if (bias) v += to_float(b.v[e]);
      p.v[e] = from_float<T>(activate<kAct>(v));
    }
    *ptr = p;
  }
}

template <typename T, Activation kAct>
void launch_bias_activation(T* x, const T* bias, int64_t rows, int cols, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const bool vec = cols % 8 == 0 && aligned_to(x, 16) && (!bias || aligned_to(bias, 16));
  if (vec) {
    launch_dependent(bias_activation_kernel<T, 8, kAct>, grid_for(rows * cols / 8, kThreads), kThreads, 0, stream, x,
                     bias, rows, cols);
  } else {
    launch_dependent(bias_activation_kernel<T, 1, kAct>, grid_for(rows * cols, kThreads), kThreads, 0, stream, x, bias,
                     rows, cols);
  }
}

template <typename T>
__global__ void embed_tokens_kernel(const T* __restrict__ patches, const float* __restrict__ prefix_tokens,
                                    const float* __restrict__ pos_embed, float* __restrict__ x, int batch,
                                    int tokens, int prefix, int dim) {
  wait_then_release_next_kernel();
  const int64_t total = int64_t(batch) * tokens * dim;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int d = int(i % dim);
    const int64_t bt = i / dim;
    const int t = int(bt % tokens);
    const int64_t b = bt / tokens;
    const float base = t < prefix ? prefix_tokens[int64_t(t) * dim + d]
                                  : to_float(patches[(b * (tokens - prefix) + (t - prefix)) * dim + d]);
    x[i] = base + pos_embed[int64_t(t) * dim + d];
  }
}

// One thread per (image, column), walking down the token rows: neighbouring threads read neighbouring columns.
template <typename X, typename Y, typename O>
__global__ void mean_tokens_kernel(const X* __restrict__ x, const Y* __restrict__ y, O* __restrict__ out, int tokens,
                                   int first, int dim) {
  wait_then_release_next_kernel();
  const int b = blockIdx.y;
  const int d = blockIdx.x * blockDim.x + threadIdx.x;
  if (d >= dim) return;
  const int64_t image = int64_t(b) * tokens * dim + d;
  float sum = 0.0f;
  for (int t = first; t < tokens; ++t) {
    const int64_t at = image + int64_t(t) * dim;
    sum += to_float(x[at]);
    if (y) sum += to_float(y[at]);
  }
  out[int64_t(b) * dim + d] = from_float<O>(sum / float(tokens - first));
}

}  // namespace

void bias_activation(void* x, const void* bias, DataType dtype, int64_t rows, int cols, Activation act,
                     cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  DISTRVIT_DISPATCH_DTYPE(dtype, T, {
    T* xt = static_cast<T*>(x);
    const T* bt = static_cast<const T*>(bias);
    switch (act) {
      case Activation::None: launch_bias_activation<T, Activation::None>(xt, bt, rows, cols, stream); break;
      case Activation::GeluErf: launch_bias_activation<T, Activation::GeluErf>(xt, bt, rows, cols, stream); break;
      case Activation::GeluTanh: launch_bias_activation<T, Activation::GeluTanh>(xt, bt, rows, cols, stream); break;
    }
  });
  CUDA_CHECK_LAUNCH();
}

void embed_tokens(const void* patches, DataType dtype, const float* prefix_tokens, const float* pos_embed, float* x,
                  int batch, int tokens, int prefix, int dim, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t total = int64_t(batch) * tokens * dim;
  if (total <= 0) return;
  DISTRVIT_DISPATCH_DTYPE(dtype, T,
    launch_dependent(embed_tokens_kernel<T>, grid_for(total, kThreads), kThreads, 0, stream,
                     static_cast<const T*>(patches), prefix_tokens, pos_embed, x, batch, tokens, prefix, dim));
  CUDA_CHECK_LAUNCH();
}

void mean_tokens(const MeanTokensParams& p, cudaStream_t stream) {
  if (p.batch <= 0 || p.dim <= 0) return;
  if (p.first < 0 || p.first >= p.tokens) {
    fail("mean_tokens", "rows [{}, {}) hold no token to average", p.first, p.tokens);
  }
  constexpr int kThreads = 128;
  const dim3 grid((p.dim + kThreads - 1) / kThreads, p.batch);
  DISTRVIT_DISPATCH_DTYPE(p.x_type, X, DISTRVIT_DISPATCH_DTYPE(p.y_type, Y, DISTRVIT_DISPATCH_DTYPE(p.out_type, O,
    launch_dependent(mean_tokens_kernel<X, Y, O>, grid, kThreads, 0, stream, static_cast<const X*>(p.x),
                     static_cast<const Y*>(p.y), static_cast<O*>(p.out), p.tokens, p.first, p.dim))));
  CUDA_CHECK_LAUNCH();
}

}  // namespace distrvit::cuda
