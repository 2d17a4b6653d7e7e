// Low-rank attention on the CPU: scores from q and k projected onto a calibrated rank-r subspace.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "distrvit/attention.h"
#include "distrvit/error.h"
#include "distrvit/ops_cpu.h"

namespace distrvit {

void attention_lowrank_cpu(const AttentionParams& p, const float* u, int rank, float* cls_probs) {
  if (p.heads != 1) throw Error("attention_lowrank_cpu: expects one head per call");
  const int n = p.tokens, d = p.head_dim;
  std::vector<float> q_low(int64_t(n) * rank), k_low(int64_t(n) * rank);  // [N, r]
  std::vector<float> scores(int64_t(n) * n);                               // [N, N]
  for (int b = 0; b < p.batch; ++b) {
    const int64_t offset = b * p.qkv_batch_stride;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, rank, d, 1.0f, p.q + offset, p.qkv_token_stride, u, rank,
                0.0f, q_low.data(), rank);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, rank, d, 1.0f, p.k + offset, p.qkv_token_stride, u, rank,
                0.0f, k_low.data(), rank);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, rank, p.scale, q_low.data(), rank, k_low.data(), rank,
                0.0f, scores.data(), n);
    softmax_rows_cpu(scores.data(), n, n);
    if (cls_probs) std::copy(scores.begin(), scores.begin() + n, cls_probs + int64_t(b) * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, n, 1.0f, scores.data(), n, p.v + offset,
                p.qkv_token_stride, 0.0f, p.out + b * p.out_batch_stride, p.out_token_stride);
  }
}

}  // namespace distrvit
