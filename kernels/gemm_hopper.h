// The forward's products with a bias, optionally with timm's exact GELU fused, on Hopper (sm_90a) tensor cores:
//   d[m, n] = sum_k a[m, k] * w[n, k] + bias[n]                  (GemmEpilogue::Bias)
//   d[m, n] = gelu_erf(sum_k a[m, k] * w[n, k] + bias[n])        (GemmEpilogue::BiasGeluErf)
// fp16 / bf16 in and out, fp32 accumulation.
// cuBLASLt's epilogues offer only the tanh GELU, so without this the exact GELU is a second pass over d
// (bias_activation), one extra read and write of the MLP's widest activation per block. With the bias alone it is a
// programmatic dependent launch (pdl.cuh), which cuBLASLt's kernels are not: at batch 1, where the forward is a chain
// of short kernels, that hides its launch behind the kernel before it.
// CPU reference: linear_cpu, then gelu_cpu (distrvit/ops_cpu.h); tested in tests/gpu/test_ops_gpu.cpp
// ("gemm_hopper" rows, and the "gemm" rows, which GemmLt may route here).
#pragma once
#include <cuda_runtime.h>

#include "gemm_cublaslt.h"  // GemmParams

namespace distrvit::cuda {

// True when this build holds the kernel (sm_90a) and the current device is compute capability 9.0.
bool gemm_hopper_available();

// True when gemm_bias_hopper can run p: an sm_90a build on a compute capability 9.0 device, epilogue Bias or
// BiasGeluErf, 16-bit a / w / d of one type, alpha 1, k a multiple of 64, n of 8, lda and ldw of 8 and ldd of 2
// elements, 16-byte aligned a and w, 4-byte aligned d and bias.
bool gemm_bias_hopper_fits(const GemmParams& p);

// Runs the product; false (nothing launched) where gemm_bias_hopper_fits(p) is false.
bool gemm_bias_hopper(const GemmParams& p, cudaStream_t stream);

}  // namespace distrvit::cuda
