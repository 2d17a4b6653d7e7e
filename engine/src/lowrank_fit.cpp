// Fitting low-rank q/k projections: eigenvectors of the summed second moments of q and k per head.
#include <algorithm>

#include "distrvit/calibrate.h"
#include "distrvit/error.h"

extern "C" void dsyev_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                       double* work, const int* lwork, int* info);

namespace distrvit {

QkCovariance::QkCovariance(int depth, int heads, int head_dim)
    : depth_(depth), heads_(heads), head_dim_(head_dim), sums_(size_t(depth) * heads * head_dim * head_dim, 0.0) {}

void QkCovariance::add(int layer, const AttentionParams& p) {
  const int d = head_dim_;
  for (int h = 0; h < heads_; ++h) {
    double* sum = sums_.data() + (size_t(layer) * heads_ + h) * d * d;  // [D, D]
    for (int b = 0; b < p.batch; ++b) {
      for (int n = 0; n < p.tokens; ++n) {
        const int64_t offset = b * p.qkv_batch_stride + n * p.qkv_token_stride + h * p.qkv_head_stride;
        for (const float* x : {p.q + offset, p.k + offset}) {
          for (int i = 0; i < d; ++i) {
            const double xi = x[i];
            for (int j = 0; j <= i; ++j) sum[i * d + j] += xi * x[j];
          }
        }
      }
    }
  }
}

LowRankProjections QkCovariance::projections(int rank) const {
  const int d = head_dim_;
  if (rank < 1 || rank > d) throw Error(fmt::format("lowrank:r={}: rank must be between 1 and the head dim {}", rank, d));
  LowRankProjections out;
  out.depth = depth_;
  out.heads = heads_;
  out.head_dim = d;
  out.rank = rank;
  out.u.resize(size_t(depth_) * heads_ * d * rank);
  std::vector<double> a(size_t(d) * d), eigenvalues(d), work(size_t(8) * d);
  const int lwork = int(work.size());
  for (int lh = 0; lh < depth_ * heads_; ++lh) {
    const double* sum = sums_.data() + size_t(lh) * d * d;
    for (int i = 0; i < d; ++i) {
      for (int j = 0; j <= i; ++j) a[size_t(i) * d + j] = a[size_t(j) * d + i] = sum[i * d + j];
    }
    int info = 0;
    dsyev_("V", "U", &d, a.data(), &d, eigenvalues.data(), work.data(), &lwork, &info);
    if (info != 0) throw Error(fmt::format("lowrank: eigen-decomposition failed (LAPACK dsyev info {})", info));
    // Column-major eigenvectors, eigenvalues ascending: the last `rank` columns span the dominant subspace.
    float* u = out.u.data() + size_t(lh) * d * rank;  // [D, rank]
    for (int c = 0; c < rank; ++c) {
      const double* vector = a.data() + size_t(d - 1 - c) * d;
      for (int i = 0; i < d; ++i) u[i * rank + c] = float(vector[i]);
    }
  }
  return out;
}

}  // namespace distrvit
