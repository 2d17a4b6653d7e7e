// The forward's products with a bias, optionally with timm's exact GELU fused, on Hopper (sm_90a) tensor cores:
//   d[m, n] = sum_k a[m, k] * w[n, k] + bias[n]                  (GemmEpilogue::Bias)
//   d[m, n] = gelu_erf(sum_k a[m, k] * w[n, k] + bias[n])        (GemmEpilogue::BiasGeluErf)
//   d[m, n] += sum_k a[m, k] * w[n, k] + bias[n]                 (GemmEpilogue::BiasResidual: d is the float32
//                                                                 residual stream, updated in place)
// fp16 / bf16 a, w, bias (and d, but for BiasResidual), fp32 accumulation.
// gemm_norm_hopper takes a as the LayerNorm of float32 rows x, computed in the kernel (GemmNormA), so that the
// norm before qkv and fc1 needs no kernel of its own; with BiasResidual for proj and fc2, a transformer block is
// then five kernels: qkv, attention, proj, fc1, fc2.
// cuBLASLt's epilogues offer only the tanh GELU, so without this the exact GELU is a second pass over d
// (bias_activation), one extra read and write of the MLP's widest activation per block. With the bias alone it is a
// programmatic dependent launch (pdl.cuh), which cuBLASLt's kernels are not: at batch 1, where the forward is a chain
// of short kernels, that hides its launch behind the kernel before it.
// CPU reference: linear_cpu, then gelu_cpu (distrvit/ops_cpu.h), layernorm_cpu before it for gemm_norm_hopper;
// tested in tests/gpu/test_ops_gpu.cpp ("gemm_hopper", "gemm_residual_hopper" and "gemm_norm_hopper" rows, and the
// "gemm" rows, which GemmLt may route here).
#pragma once
#include <cuda_runtime.h>

#include "gemm_cublaslt.h"  // GemmParams

namespace distrvit::cuda {

// True when this build holds the kernel (sm_90a) and the current device is compute capability 9.0.
bool gemm_hopper_available();

// a = LayerNorm(x) * gamma + beta, row by row (statistics in float32, as layernorm.h), in place of p.a.
struct GemmNormA {
  const float* x = nullptr;      // [m, k] float32, row stride ldx
  int64_t ldx = 0;               // 0: k
  const float* gamma = nullptr;  // [k]
  const float* beta = nullptr;   // [k]
  float eps = 1e-6f;
};

// True when gemm_bias_hopper can run p: an sm_90a build on a compute capability 9.0 device, epilogue Bias,
// BiasGeluErf or BiasResidual, 16-bit a / w / bias of one type, d of that type (float32 for BiasResidual), alpha
// 1, k a multiple of 64, n of 8, lda and ldw of 8 and ldd of 2 elements, 16-byte aligned a and w, 4-byte aligned
// bias and d (8-byte for BiasResidual).
bool gemm_bias_hopper_fits(const GemmParams& p);

// Runs the product; false (nothing launched) where gemm_bias_hopper_fits(p) is false.
bool gemm_bias_hopper(const GemmParams& p, cudaStream_t stream);

// As gemm_bias_hopper_fits, for a = LayerNorm(norm.x) (p.a, p.lda unused): epilogue Bias or BiasGeluErf, k at most
// 1024, 16-byte aligned x rows, gamma and beta.
bool gemm_norm_hopper_fits(const GemmParams& p, const GemmNormA& norm);

// Runs the product on a = LayerNorm(norm.x); false (nothing launched) where gemm_norm_hopper_fits is false.
bool gemm_norm_hopper(const GemmParams& p, const GemmNormA& norm, cudaStream_t stream);

}  // namespace distrvit::cuda
