#include "distrvit/ops_cpu.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "distrvit/attention.h"
#include "math_avx2.h"

namespace distrvit {

void linear_cpu(const float* in, const float* weight, const float* bias, float* out, int64_t m, int64_t n, int64_t k) {
  if (bias) {
    for (int64_t i = 0; i < m; ++i) std::copy(bias, bias + n, out + i * n);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, in, k, weight, k, bias ? 1.0f : 0.0f, out, n);
}

void layernorm_cpu(const float* x, const float* gamma, const float* beta, float* out, int64_t rows, int64_t cols,
                   float eps) {
#if defined(DISTRVIT_X86_FEATURES)
  if (cpu_has_avx2_fma()) return layernorm_avx2(x, gamma, beta, out, rows, cols, eps);
#endif
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += row[c];
    const double mean = sum / cols;
    double sq = 0;
    for (int64_t c = 0; c < cols; ++c) sq += (row[c] - mean) * (row[c] - mean);
    const float rstd = float(1.0 / std::sqrt(sq / cols + eps));
    float* dst = out + r * cols;
    for (int64_t c = 0; c < cols; ++c) dst[c] = float(row[c] - mean) * rstd * gamma[c] + beta[c];
  }
}

void gelu_cpu(float* x, int64_t n) {
#if defined(DISTRVIT_X86_FEATURES)
  if (cpu_has_avx2_fma()) return gelu_avx2(x, n);
#endif
  // 1 + erf(z) = erfc(-z), in double: z's rounding would cost erfc 2 z^2 ulps in the negative tail.
  for (int64_t i = 0; i < n; ++i) x[i] = float(0.5 * x[i] * std::erfc(-double(x[i]) * 0.70710678118654752));
}

void softmax_rows_cpu(float* x, int64_t rows, int64_t cols) {
#if defined(DISTRVIT_X86_FEATURES)
  if (cpu_has_avx2_fma()) return softmax_rows_avx2(x, rows, cols);
#endif
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    const float max_value = *std::max_element(row, row + cols);
    float sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += row[c] = std::exp(row[c] - max_value);
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < cols; ++c) row[c] *= inv;
  }
}

void add_inplace_cpu(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void mean_rows_cpu(const float* x, float* out, int64_t rows, int64_t cols) {
  std::vector<double> sums(cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) sums[c] += x[r * cols + c];
  }
  for (int64_t c = 0; c < cols; ++c) out[c] = float(sums[c] / double(rows));
}

void patch_embed_rows_cpu(const float* image, const float* weight, const float* bias, float* tokens, int first_patch,
                          int patch_count, int channels, int height, int width, int patch, int embed, float* columns) {
  const int gw = width / patch;
  const int64_t patch_len = int64_t(channels) * patch * patch;
  for (int i = 0; i < patch_count; ++i) {
    const int py = (first_patch + i) / gw, px = (first_patch + i) % gw;
    float* col = columns + int64_t(i) * patch_len;
    for (int c = 0; c < channels; ++c) {
      for (int y = 0; y < patch; ++y) {
        const float* src = image + (int64_t(c) * height + py * patch + y) * width + px * patch;
        std::copy(src, src + patch, col + (int64_t(c) * patch + y) * patch);
      }
    }
  }
  linear_cpu(columns, weight, bias, tokens, patch_count, embed, patch_len);
}

void patch_embed_cpu(const float* image, const float* weight, const float* bias, float* tokens, int batch,
                     int channels, int height, int width, int patch, int embed) {
  const int patches = (height / patch) * (width / patch);
  std::vector<float> columns(int64_t(patches) * channels * patch * patch);  // [gh*gw, C*P*P] one image's patches
  for (int b = 0; b < batch; ++b) {
    patch_embed_rows_cpu(image + int64_t(b) * channels * height * width, weight, bias,
                         tokens + int64_t(b) * patches * embed, 0, patches, channels, height, width, patch, embed,
                         columns.data());
  }
}

void attention_blas_rows_cpu(const AttentionParams& p, int b, int h, int row_begin, int row_end, float* scores,
                             float* cls_probs) {
  const int n = p.tokens, d = p.head_dim, rows = row_end - row_begin;
  const int64_t offset = b * p.qkv_batch_stride + h * p.qkv_head_stride;
  const float* q = p.q + offset + int64_t(row_begin) * p.qkv_token_stride;
  float* out = p.out + b * p.out_batch_stride + h * p.out_head_stride + int64_t(row_begin) * p.out_token_stride;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, d, p.scale, q, p.qkv_token_stride, p.k + offset,
              p.qkv_token_stride, 0.0f, scores, n);
  softmax_rows_cpu(scores, rows, n);
  if (cls_probs && row_begin == 0) std::copy(scores, scores + n, cls_probs);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, n, 1.0f, scores, n, p.v + offset,
              p.qkv_token_stride, 0.0f, out, p.out_token_stride);
}

}  // namespace distrvit
