// The MLP's first product with timm's exact GELU fused into its epilogue, on Hopper (sm_90a) tensor cores:
//   d[m, n] = gelu_erf(sum_k a[m, k] * w[n, k] + bias[n])        (fp16 / bf16 in and out, fp32 accumulation)
// cuBLASLt's epilogues offer only the tanh GELU, so without this the exact GELU is a second pass over d
// (bias_activation), one extra read and write of the MLP's widest activation per block.
// CPU reference: linear_cpu, then gelu_cpu (distrvit/ops_cpu.h); tested in tests/gpu/test_ops_gpu.cpp
// ("gemm_gelu_hopper" rows, and the "gemm" rows with the erf epilogue, which GemmLt may route here).
#pragma once
#include <cuda_runtime.h>

#include "gemm_cublaslt.h"  // GemmParams

namespace distrvit::cuda {

// True when this build holds the kernel (sm_90a) and the current device is compute capability 9.0.
bool gemm_hopper_available();

// True when gemm_bias_gelu_hopper can run p: an sm_90a build on a compute capability 9.0 device, 16-bit a / w / d
// of one type, alpha 1, k a multiple of 64, n of 8, lda and ldw of 8 and ldd of 2 elements, 16-byte aligned a
// and w, 4-byte aligned d and bias.
bool gemm_bias_gelu_hopper_fits(const GemmParams& p);

// Runs the product; false (nothing launched) where gemm_bias_gelu_hopper_fits(p) is false.
bool gemm_bias_gelu_hopper(const GemmParams& p, cudaStream_t stream);

}  // namespace distrvit::cuda
