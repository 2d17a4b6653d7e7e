// Device helpers of distr.h's Int8 hash on the tensor cores (mma.m16n8k32.s8), shared by the short-block prologue
// (attention_distr_expand.cu) and the general codes kernels (attention_distr_int8.cu).
#pragma once
#include <cstdint>

#include "distrvit/distr.h"

namespace distrvit::cuda::distr {

// q8 = rint(v scale) of four values (rows r .. r + 3 of one column) as the bytes of one word, row r in byte 0: the
// low byte of fma(v, scale, 1.5 2^23), exact for |v scale| < 2^22.
__device__ __forceinline__ uint32_t q8_word(float v0, float v1, float v2, float v3, float scale) {
  const auto low = [scale](float v) { return __float_as_uint(__fmaf_rn(v, scale, 12582912.0f)); };
  return __byte_perm(__byte_perm(low(v0), low(v1), 0x0040), __byte_perm(low(v2), low(v3), 0x0040), 0x5410);
}

// Word (k-step s, n-tile t, k half h) of lane L's B fragments of r8 = clamp(rint(32 R)) with k = row, n = bit:
// bytes j = 0..3 hold k = 32 s + 16 h + 4 (L % 4) + j, n = 8 t + L / 4; zeros past `rows` rows and P bits.
// projection: R's rows from the fragment's row 0, P floats each.
__device__ __forceinline__ uint32_t r8_fragment_word(const float* projection, int rows, int P, int s, int t, int h,
                                                     int L) {
  const int n = 8 * t + L / 4;
  uint32_t word = 0;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int k = 32 * s + 16 * h + 4 * (L % 4) + j;
    const int v = k < rows && n < P ? i8_projection(projection[k * P + n]) : 0;
    word |= uint32_t(v & 0xff) << (8 * j);
  }
  return word;
}

}  // namespace distrvit::cuda::distr
