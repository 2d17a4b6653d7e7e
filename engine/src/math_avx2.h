// Internal: AVX2 + FMA versions of the CPU engine's element-wise math, 8 floats at a time. glibc's erff and expf
// are scalar calls; these evaluate polynomials in registers. Callers check cpu_has_avx2_fma() first.
#pragma once
#include <cstdint>

#include "cpu_features.h"

#if defined(DISTRVIT_X86_FEATURES)
namespace distrvit {

// gelu_cpu's contract, within 5e-7 relative (x > -11.4; below, under 1e-30); erfc from the Chebyshev-fitted formula
// of Numerical Recipes' erfcc (1.2e-7 relative), exp from a degree-6 polynomial after range reduction by ln 2
// (Cephes' expf).
void gelu_avx2(float* x, int64_t n);

// layernorm_cpu's contract: the mean summed in double, the centred squares in fp32 over 8 lanes.
void layernorm_avx2(const float* x, const float* gamma, const float* beta, float* out, int64_t rows, int64_t cols,
                    float eps);

// softmax_rows_cpu's contract.
void softmax_rows_avx2(float* x, int64_t rows, int64_t cols);

}  // namespace distrvit
#endif
