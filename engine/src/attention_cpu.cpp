// CPU reference attention: plain loops over (batch, head), one query row at a time.
#include <algorithm>
#include <cmath>
#include <vector>

#include "distrvit/attention.h"
#include "distrvit/error.h"
#include "distrvit/ops_cpu.h"

namespace distrvit {

AttentionParams AttentionParams::from_qkv(const float* qkv, float* out, int batch, int tokens, int heads,
                                          int head_dim) {
  const int64_t embed = int64_t(heads) * head_dim;
  AttentionParams p;
  p.q = qkv;
  p.k = qkv + embed;
  p.v = qkv + 2 * embed;
  p.out = out;
  p.batch = batch;
  p.heads = heads;
  p.tokens = tokens;
  p.head_dim = head_dim;
  p.qkv_batch_stride = int64_t(tokens) * 3 * embed;
  p.qkv_token_stride = 3 * embed;
  p.qkv_head_stride = head_dim;
  p.out_batch_stride = int64_t(tokens) * embed;
  p.out_token_stride = embed;
  p.out_head_stride = head_dim;
  p.scale = 1.0f / std::sqrt(float(head_dim));
  return p;
}

std::string attention_kind_name(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::Exact: return "exact";
    case AttentionKind::Cudnn: return "cudnn";
    case AttentionKind::Naive: return "naive";
    case AttentionKind::Distr: return "distr";
    case AttentionKind::LowRank: return "lowrank";
  }
  return "?";
}

void attend_row_cpu(const float* q_row, const float* keys, int64_t key_stride, int key_dim, const float* v,
                    int64_t v_stride, int tokens, int head_dim, float scale, float* scores, float* out_row) {
  for (int j = 0; j < tokens; ++j) {
    const float* k_row = keys + j * key_stride;
    float dot = 0;
    for (int c = 0; c < key_dim; ++c) dot += q_row[c] * k_row[c];
    scores[j] = dot * scale;
  }
  softmax_rows_cpu(scores, 1, tokens);
  std::fill(out_row, out_row + head_dim, 0.0f);
  for (int j = 0; j < tokens; ++j) {
    const float* v_row = v + j * v_stride;
    for (int c = 0; c < head_dim; ++c) out_row[c] += scores[j] * v_row[c];
  }
}

void attention_exact_cpu(const AttentionParams& p) {
  const int n = p.tokens, d = p.head_dim;
  std::vector<float> scores(n);  // [N] one query row
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      const float* q = p.q + b * p.qkv_batch_stride + h * p.qkv_head_stride;
      const float* k = p.k + b * p.qkv_batch_stride + h * p.qkv_head_stride;
      const float* v = p.v + b * p.qkv_batch_stride + h * p.qkv_head_stride;
      float* out = p.out + b * p.out_batch_stride + h * p.out_head_stride;
      for (int i = 0; i < n; ++i) {
        attend_row_cpu(q + i * p.qkv_token_stride, k, p.qkv_token_stride, d, v, p.qkv_token_stride, n, d, p.scale,
                       scores.data(), out + i * p.out_token_stride);
      }
    }
  }
}

}  // namespace distrvit
