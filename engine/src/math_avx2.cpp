#include "math_avx2.h"

#if defined(DISTRVIT_X86_FEATURES)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#define DISTRVIT_AVX2 __attribute__((target("avx2,fma")))

namespace distrvit {
namespace {

constexpr int kLanes = 8;

// e^(hi + lo) for a small correction lo (|lo| < 2); 0 below -87 (where expf turns subnormal), e^88.3 above 88.3.
// lo joins after the range reduction, so that hi keeps its digits when it is large.
DISTRVIT_AVX2 inline __m256 exp8(__m256 hi, __m256 lo) {
  __m256 x = _mm256_add_ps(hi, lo);
  const __m256 in_range = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);
  const __m256 too_large = _mm256_cmp_ps(x, _mm256_set1_ps(88.3f), _CMP_GT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.3f));
  hi = _mm256_blendv_ps(hi, x, too_large);
  lo = _mm256_andnot_ps(too_large, lo);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), hi);  // hi - n ln 2, ln 2 in two parts: exact
  r = _mm256_add_ps(_mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r), lo);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i two_to_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(two_to_n)), in_range);
}

// 0.5 x (1 + erf(x / sqrt 2)) = x (1 - erfc(z) / 2) for x > 0, x erfc(z) / 2 otherwise, with z = |x| / sqrt 2.
// erfc(z) = t e^(p(t) - z^2), t = 1 / (1 + z / 2); z^2 = x^2 / 2 is carried as two floats (hi + lo, exact).
DISTRVIT_AVX2 inline __m256 gelu8(__m256 x) {
  const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752f));
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(0.17087277f);
  for (float c : {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f,
                  1.00002368f, -1.26551223f})
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c));
  const __m256 x2_hi = _mm256_mul_ps(x, x), x2_lo = _mm256_fmsub_ps(x, x, x2_hi);
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 e = exp8(_mm256_mul_ps(x2_hi, _mm256_set1_ps(-0.5f)), _mm256_fnmadd_ps(x2_lo, half, p));
  const __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(t, e), half);
  const __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
  const __m256 factor = _mm256_blendv_ps(half_erfc, _mm256_sub_ps(_mm256_set1_ps(1.0f), half_erfc), positive);
  return _mm256_mul_ps(x, factor);
}

// Loads the tail of a row (fewer than 8 values) padded with `fill`.
DISTRVIT_AVX2 inline __m256 load_tail(const float* x, int64_t count, float fill) {
  alignas(32) float lanes[kLanes];
  std::fill(lanes, lanes + kLanes, fill);
  std::copy(x, x + count, lanes);
  return _mm256_load_ps(lanes);
}

DISTRVIT_AVX2 inline void store_tail(__m256 v, float* x, int64_t count) {
  alignas(32) float lanes[kLanes];
  _mm256_store_ps(lanes, v);
  std::copy(lanes, lanes + count, x);
}

DISTRVIT_AVX2 inline float horizontal_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

DISTRVIT_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace

DISTRVIT_AVX2 void gelu_avx2(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
  if (i < n) store_tail(gelu8(load_tail(x + i, n - i, 0.0f)), x + i, n - i);
}

DISTRVIT_AVX2 inline __m256 centered8(const float* x, __m256 mean_hi, __m256 mean_lo) {
  return _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x), mean_hi), mean_lo);
}

DISTRVIT_AVX2 void layernorm_avx2(const float* x, const float* gamma, const float* beta, float* out, int64_t rows,
                                  int64_t cols, float eps) {
  const int64_t body = cols - cols % kLanes;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    __m256d low4 = _mm256_setzero_pd(), high4 = _mm256_setzero_pd();  // the sum in double: rows can sit far from 0
    for (int64_t c = 0; c < body; c += kLanes) {
      const __m256 v = _mm256_loadu_ps(row + c);
      low4 = _mm256_add_pd(low4, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
      high4 = _mm256_add_pd(high4, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, _mm256_add_pd(low4, high4));
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (int64_t c = body; c < cols; ++c) sum += row[c];
    // The mean as two floats, so that x - mean keeps its digits when the row sits far from 0.
    const double mean = sum / double(cols);
    const float mean_hi = float(mean), mean_lo = float(mean - double(mean_hi));
    const __m256 mean_hi8 = _mm256_set1_ps(mean_hi), mean_lo8 = _mm256_set1_ps(mean_lo);
    auto centered = [&](int64_t c) { return (row[c] - mean_hi) - mean_lo; };
    __m256 square8 = _mm256_setzero_ps();
    for (int64_t c = 0; c < body; c += kLanes) {
      const __m256 v = centered8(row + c, mean_hi8, mean_lo8);
      square8 = _mm256_fmadd_ps(v, v, square8);
    }
    float square = horizontal_sum(square8);
    for (int64_t c = body; c < cols; ++c) square += centered(c) * centered(c);
    const float rstd = 1.0f / std::sqrt(square / float(cols) + eps);
    const __m256 rstd8 = _mm256_set1_ps(rstd);
    float* dst = out + r * cols;
    for (int64_t c = 0; c < body; c += kLanes) {
      const __m256 normed = _mm256_mul_ps(centered8(row + c, mean_hi8, mean_lo8), rstd8);
      _mm256_storeu_ps(dst + c, _mm256_fmadd_ps(normed, _mm256_loadu_ps(gamma + c), _mm256_loadu_ps(beta + c)));
    }
    for (int64_t c = body; c < cols; ++c) dst[c] = centered(c) * rstd * gamma[c] + beta[c];
  }
}

DISTRVIT_AVX2 void softmax_rows_avx2(float* x, int64_t rows, int64_t cols) {
  const int64_t body = cols - cols % kLanes, tail = cols - body;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    __m256 max8 = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t c = 0; c < body; c += kLanes) max8 = _mm256_max_ps(max8, _mm256_loadu_ps(row + c));
    float max_value = horizontal_max(max8);
    for (int64_t c = body; c < cols; ++c) max_value = std::max(max_value, row[c]);
    const __m256 max_b = _mm256_set1_ps(max_value);
    __m256 sum8 = _mm256_setzero_ps();
    for (int64_t c = 0; c < body; c += kLanes) {
      const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + c), max_b), _mm256_setzero_ps());
      _mm256_storeu_ps(row + c, e);
      sum8 = _mm256_add_ps(sum8, e);
    }
    float sum = horizontal_sum(sum8);
    if (tail > 0) {
      store_tail(exp8(_mm256_sub_ps(load_tail(row + body, tail, max_value), max_b), _mm256_setzero_ps()), row + body,
                 tail);
      for (int64_t c = body; c < cols; ++c) sum += row[c];
    }
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (int64_t c = 0; c < body; c += kLanes) _mm256_storeu_ps(row + c, _mm256_mul_ps(_mm256_loadu_ps(row + c), inv));
    for (int64_t c = body; c < cols; ++c) row[c] *= 1.0f / sum;
  }
}

}  // namespace distrvit
#endif
