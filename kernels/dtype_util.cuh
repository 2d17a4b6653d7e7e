// Device-side helpers shared by the element-wise kernels: float <-> storage type, packed vector access,
// warp reductions, and a switch that turns the run-time DataType into a template parameter.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "attention_cuda.h"  // DataType
#include "distrvit/error.h"

namespace distrvit::cuda {

template <typename T>
__device__ __forceinline__ float to_float(T v);
template <>
__device__ __forceinline__ float to_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// N consecutive elements moved with one (or, for 32 bytes, two) vector instructions.
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// Two adjacent elements at p (aligned to their pair) as floats, exact conversions like to_float.
template <typename T>
__device__ __forceinline__ float2 load_pair(const void* p);
template <>
__device__ __forceinline__ float2 load_pair<float>(const void* p) {
  return *static_cast<const float2*>(p);
}
template <>
__device__ __forceinline__ float2 load_pair<__half>(const void* p) {
  return __half22float2(*static_cast<const __half2*>(p));
}
template <>
__device__ __forceinline__ float2 load_pair<__nv_bfloat16>(const void* p) {
  return __bfloat1622float2(*static_cast<const __nv_bfloat162*>(p));
}

// timm / PyTorch nn.GELU(): 0.5 x (1 + erf(x / sqrt 2)).
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

inline bool aligned_to(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }
inline size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

inline unsigned grid_for(int64_t work, int threads, int64_t max_blocks = 65535LL * 32) {
  int64_t blocks = (work + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks < max_blocks ? blocks : max_blocks);
}

}  // namespace distrvit::cuda

// Runs the statement block with `T` bound to the storage type of `dtype`.
#define DISTRVIT_DISPATCH_DTYPE(dtype, T, ...)                 \
  switch (dtype) {                                             \
    case ::distrvit::cuda::DataType::F32: {                    \
      using T = float;                                         \
      __VA_ARGS__;                                             \
      break;                                                   \
    }                                                          \
    case ::distrvit::cuda::DataType::F16: {                    \
      using T = __half;                                        \
      __VA_ARGS__;                                             \
      break;                                                   \
    }                                                          \
    case ::distrvit::cuda::DataType::BF16: {                   \
      using T = __nv_bfloat16;                                 \
      __VA_ARGS__;                                             \
      break;                                                   \
    }                                                          \
  }
