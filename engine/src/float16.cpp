#include "float16.h"

#include <cstring>

#include "cpu_features.h"
#if defined(DISTRVIT_X86_FEATURES)
#include <immintrin.h>
#endif

namespace distrvit {
namespace {

float float_from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// `kept` (the result so far) rounded up when the dropped low `shift` bits of `value` are over half an ulp, or
// exactly half and `kept` is odd.
uint32_t round_nearest_even(uint32_t kept, uint32_t value, int shift) {
  const uint32_t dropped = value & ((1u << shift) - 1), half = 1u << (shift - 1);
  return kept + (dropped > half || (dropped == half && (kept & 1u)));
}

#if defined(DISTRVIT_X86_FEATURES)
__attribute__((target("avx,f16c"))) void float_rows_to_f16_f16c(const float* src, ptrdiff_t src_stride,
                                                                 uint16_t* dst, ptrdiff_t dst_stride, int rows,
                                                                 size_t cols) {
  for (int r = 0; r < rows; ++r, src += src_stride, dst += dst_stride) {
    size_t i = 0;
    for (; i + 8 <= cols; i += 8) {
      const __m128i packed = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), packed);
    }
    for (; i < cols; ++i) dst[i] = float_to_f16(src[i]);
  }
}
#endif

}  // namespace

float f16_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float32
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return float_from_bits(sign | 0x7f800000u | (mantissa << 13));  // inf or nan
  return float_from_bits(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

float bf16_to_float(uint16_t bfloat) { return float_from_bits(static_cast<uint32_t>(bfloat) << 16); }

uint16_t float_to_f16(float value) {
  const uint32_t bits = bits_of(value);
  const uint32_t sign = (bits >> 16) & 0x8000u, magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return 0x7fffu;                        // NaN
  if (magnitude >= 0x477ff000u) return uint16_t(sign | 0x7c00u);      // >= 65520 rounds to infinity
  if (magnitude >= 0x38800000u) {                                     // normal: 2^-14 and up
    const uint32_t exponent = (magnitude >> 23) - 127 + 15, mantissa = magnitude & 0x7fffffu;
    return uint16_t(sign | round_nearest_even((exponent << 10) | (mantissa >> 13), mantissa, 13));
  }
  const uint32_t exponent = magnitude >> 23;
  if (exponent < 102) return uint16_t(sign);  // below 2^-25: rounds to zero (2^-25 itself ties to even zero)
  // Subnormal: (1.mantissa * 2^(exponent - 127)) / 2^-24 = (mantissa | 2^23) >> (126 - exponent), shift 14 .. 24.
  const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
  const int shift = 126 - int(exponent);
  return uint16_t(sign | round_nearest_even(significand >> shift, significand, shift));
}

// Round to nearest even without branches, so that loops over it vectorise: adding 0x7fff plus the kept lowest bit
// carries into bit 16 exactly when the dropped half is over half an ulp, or exactly half with the kept part odd. The
// carry may run into the exponent, up to infinity.
uint16_t float_to_bf16(float value) {
  const uint32_t bits = bits_of(value);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  return (bits & 0x7fffffffu) > 0x7f800000u ? uint16_t(0x7fffu) : uint16_t(rounded);  // NaN: 0x7fff
}

void float_rows_to_f16(const float* src, ptrdiff_t src_stride, uint16_t* dst, ptrdiff_t dst_stride, int rows,
                       size_t cols) {
#if defined(DISTRVIT_X86_FEATURES)
  if (cpu_has_avx_f16c()) return float_rows_to_f16_f16c(src, src_stride, dst, dst_stride, rows, cols);
#endif
  for (int r = 0; r < rows; ++r, src += src_stride, dst += dst_stride)
    for (size_t i = 0; i < cols; ++i) dst[i] = float_to_f16(src[i]);
}

void float_rows_to_bf16(const float* src, ptrdiff_t src_stride, uint16_t* dst, ptrdiff_t dst_stride, int rows,
                        size_t cols) {
  for (int r = 0; r < rows; ++r, src += src_stride, dst += dst_stride)
    for (size_t i = 0; i < cols; ++i) dst[i] = float_to_bf16(src[i]);
}

}  // namespace distrvit
