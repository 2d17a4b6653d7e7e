// Attention probabilities of the class token (query row 0), for heat-maps: exact or DistrAttention.
#include <algorithm>
#include <cmath>
#include <vector>

#include "distrvit/attention.h"
#include "distrvit/distr.h"
#include "distrvit/ops_cpu.h"

namespace distrvit {
namespace {

// Scores of query row 0 against every key: [N]. Exact uses the full head dimension; DistrAttention the
// grouped Q~ and K~ of the first block.
void cls_scores(const float* q, const float* k, const AttentionParams& p, const AttentionSpec& spec, float* scores) {
  const int n = p.tokens, d = p.head_dim;
  const int64_t stride = p.qkv_token_stride;
  if (spec.kind != AttentionKind::Distr || spec.distr.group == 1) {
    for (int j = 0; j < n; ++j) {
      float dot = 0;
      for (int c = 0; c < d; ++c) dot += q[c] * k[j * stride + c];
      scores[j] = dot * p.scale;
    }
    return;
  }
  const DistrParams& distr = spec.distr;
  const int rows = std::min(distr.block, n), groups = d / distr.group;
  const std::vector<float> projection = distr_projection(distr, rows);
  const DistrBlockGrouping grouping = distr_group_block(q, stride, rows, d, projection.data(), distr.hash_bits, distr.hash);
  std::vector<float> q_fused(groups);  // [E] row 0 of Q~
  for (int g = 0; g < groups; ++g) {
    const int* members = grouping.order.data() + g * distr.group;
    if (distr.variant == DistrVariant::Sample) {
      q_fused[g] = q[members[0]];
      continue;
    }
    float sum = 0;
    for (int m = 0; m < distr.group; ++m) sum += q[members[m]];
    q_fused[g] = sum / distr.group;
  }
  for (int j = 0; j < n; ++j) {
    float dot = 0;
    for (int g = 0; g < groups; ++g) {
      float k_fused = 0;
      for (int m = 0; m < distr.group; ++m) k_fused += k[j * stride + grouping.order[g * distr.group + m]];
      dot += q_fused[g] * k_fused;
    }
    scores[j] = dot * p.scale;
  }
}

}  // namespace

void attention_cls_probs_cpu(const AttentionParams& p, const AttentionSpec& spec, float* probs) {
  if (spec.kind == AttentionKind::Distr) validate_distr(spec.distr, p.head_dim);
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      const int64_t offset = b * p.qkv_batch_stride + h * p.qkv_head_stride;
      float* row = probs + (int64_t(b) * p.heads + h) * p.tokens;
      cls_scores(p.q + offset, p.k + offset, p, spec, row);
      softmax_rows_cpu(row, 1, p.tokens);
    }
  }
}

}  // namespace distrvit
