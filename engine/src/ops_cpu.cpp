#include "distrvit/ops_cpu.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "distrvit/attention.h"

namespace distrvit {

void linear_cpu(const float* in, const float* weight, const float* bias, float* out, int64_t m, int64_t n, int64_t k) {
  if (bias) {
    for (int64_t i = 0; i < m; ++i) std::copy(bias, bias + n, out + i * n);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, in, k, weight, k, bias ? 1.0f : 0.0f, out, n);
}

void layernorm_cpu(const float* x, const float* gamma, const float* beta, float* out, int64_t rows, int64_t cols,
                   float eps) {
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
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

void softmax_rows_cpu(float* x, int64_t rows, int64_t cols) {
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

void patch_embed_cpu(const float* image, const float* weight, const float* bias, float* tokens, int batch,
                     int channels, int height, int width, int patch, int embed) {
  const int gh = height / patch, gw = width / patch;
  const int64_t patch_len = int64_t(channels) * patch * patch;
  std::vector<float> columns(int64_t(gh) * gw * patch_len);  // [gh*gw, C*P*P] one image's patches
  for (int b = 0; b < batch; ++b) {
    const float* img = image + int64_t(b) * channels * height * width;
    for (int py = 0; py < gh; ++py) {
      for (int px = 0; px < gw; ++px) {
        float* col = columns.data() + (int64_t(py) * gw + px) * patch_len;
        for (int c = 0; c < channels; ++c) {
          for (int y = 0; y < patch; ++y) {
            const float* src = img + (int64_t(c) * height + py * patch + y) * width + px * patch;
            std::copy(src, src + patch, col + (int64_t(c) * patch + y) * patch);
          }
        }
      }
    }
    linear_cpu(columns.data(), weight, bias, tokens + int64_t(b) * gh * gw * embed, int64_t(gh) * gw, embed, patch_len);
  }
}

void attention_blas_cpu(const AttentionParams& p, float* cls_probs) {
  const int n = p.tokens, d = p.head_dim;
  std::vector<float> scores(int64_t(n) * n);  // [N, N] one head
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      const int64_t offset = b * p.qkv_batch_stride + h * p.qkv_head_stride;
      float* out = p.out + b * p.out_batch_stride + h * p.out_head_stride;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, d, p.scale, p.q + offset, p.qkv_token_stride,
                  p.k + offset, p.qkv_token_stride, 0.0f, scores.data(), n);
      softmax_rows_cpu(scores.data(), n, n);
      if (cls_probs) std::copy(scores.begin(), scores.begin() + n, cls_probs + (int64_t(b) * p.heads + h) * n);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, n, 1.0f, scores.data(), n, p.v + offset,
                  p.qkv_token_stride, 0.0f, out, p.out_token_stride);
    }
  }
}

}  // namespace distrvit
