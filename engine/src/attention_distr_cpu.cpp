// CPU reference of DistrAttention (docs/distrattention.md section 1; every detail in distrvit/distr.h):
// plain loops per (batch, head), per block of l query rows, fp32 math. It defines what is right for the
// CUDA kernel, which uploads the same R from distr_projection(). attention_distr_blas_cpu, the CPU engine's, takes
// the same Q~ and K~ and does the two products of each block with OpenBLAS.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "distrvit/attention.h"
#include "distrvit/distr.h"
#include "distrvit/error.h"
#include "distrvit/ops_cpu.h"

#include "cpu_features.h"

namespace distrvit {

void validate_distr(const DistrParams& distr, int head_dim) {
  if (distr.block < 1) fail("distr", "block size l must be >= 1, got {}", distr.block);
  if (distr.group < 1) fail("distr", "group size G must be >= 1, got {}", distr.group);
  if (distr.hash_bits < 1 || distr.hash_bits > kMaxHashBits)
    fail("distr", "hash bits P must be in 1..{}, got {}", kMaxHashBits, distr.hash_bits);
  if (head_dim > 0 && head_dim % distr.group != 0)
    fail("distr", "head dim {} is not divisible by group size G={}", head_dim, distr.group);
}

uint64_t splitmix64_at(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::vector<float> distr_projection(const DistrParams& distr, int block_rows) {
  if (distr.hash_bits < 1 || distr.hash_bits > kMaxHashBits)
    fail("distr", "hash bits P must be in 1..{}, got {}", kMaxHashBits, distr.hash_bits);
  if (block_rows < 0) fail("distr", "projection rows must be >= 0, got {}", block_rows);
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  constexpr double kInv2Pow53 = 1.0 / 9007199254740992.0;  // 2^-53
  std::vector<float> projection(size_t(block_rows) * distr.hash_bits);  // [rows, P]
  for (size_t e = 0; e < projection.size(); ++e) {
    const double u1 = double((splitmix64_at(distr.seed, 2 * e) >> 11) + 1) * kInv2Pow53;  // (0, 1]
    const double u2 = double(splitmix64_at(distr.seed, 2 * e + 1) >> 11) * kInv2Pow53;    // [0, 1)
    projection[e] = float(std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2));
  }
  return projection;
}

namespace {

// dots[c * P + p] += the fused multiply-add sum over rows [r0, r1) of Q[r, c] * R[r, p], ascending r, from 0 (one
// 256-row chunk of distr.h's SimHash dots).
inline __attribute__((always_inline)) void add_chunk_dots(const float* q, int64_t row_stride, int r0, int r1,
                                                          int head_dim, const float* projection, int hash_bits,
                                                          float* partial, float* dots) {
  std::fill(partial, partial + size_t(head_dim) * hash_bits, 0.0f);
  for (int r = r0; r < r1; ++r) {
    const float* q_row = q + r * row_stride;
    const float* r_row = projection + size_t(r) * hash_bits;
    for (int c = 0; c < head_dim; ++c) {
      float* acc = partial + size_t(c) * hash_bits;
      for (int bit = 0; bit < hash_bits; ++bit) acc[bit] = std::fma(q_row[c], r_row[bit], acc[bit]);
    }
  }
  for (size_t i = 0; i < size_t(head_dim) * hash_bits; ++i) dots[i] += partial[i];
}

#if defined(DISTRVIT_X86_FEATURES)
// std::fma is a libm call without the FMA instructions; with them, one vfmadd.
__attribute__((target("avx2,fma"))) void add_chunk_dots_fma(const float* q, int64_t row_stride, int r0, int r1,
                                                             int head_dim, const float* projection, int hash_bits,
                                                             float* partial, float* dots) {
  add_chunk_dots(q, row_stride, r0, r1, head_dim, projection, hash_bits, partial, dots);
}
#endif

// dots[c * P + p] = distr.h's Int8 dots of the block's columns.
void int8_dots(const float* q, int64_t row_stride, int rows, int head_dim, const float* projection, int hash_bits,
               float* dots) {
  std::vector<float> scale(head_dim);
  for (int c = 0; c < head_dim; ++c) {
    float max_abs = 0.0f;
    for (int r = 0; r < rows; ++r) max_abs = std::max(max_abs, std::fabs(q[r * row_stride + c]));
    scale[c] = i8_column_scale(max_abs);
  }
  std::vector<int64_t> sums(size_t(head_dim) * hash_bits, 0);
  std::vector<int> r8(hash_bits);
  for (int r = 0; r < rows; ++r) {
    for (int bit = 0; bit < hash_bits; ++bit) r8[bit] = i8_projection(projection[size_t(r) * hash_bits + bit]);
    for (int c = 0; c < head_dim; ++c) {
      const int64_t q8 = i8_quantize(q[r * row_stride + c], scale[c]);
      for (int bit = 0; bit < hash_bits; ++bit) sums[size_t(c) * hash_bits + bit] += q8 * r8[bit];
    }
  }
  for (size_t i = 0; i < sums.size(); ++i) dots[i] = sums[i] > 0 ? 1.0f : 0.0f;  // only the signs are used
}

}  // namespace

DistrBlockGrouping distr_group_block(const float* q, int64_t row_stride, int rows, int head_dim,
                                     const float* projection, int hash_bits, DistrHash hash) {
  if (hash_bits < 1 || hash_bits > kMaxHashBits)
    fail("distr", "hash bits P must be in 1..{}, got {}", kMaxHashBits, hash_bits);
  if (hash == DistrHash::Int8 && rows >= kMaxInt8BlockRows)
    fail("distr", "hash=i8 needs blocks of fewer than {} rows (int32 dots on the GPU), got {}", kMaxInt8BlockRows,
         rows);
  DistrBlockGrouping grouping;
  grouping.codes.assign(head_dim, 0);
  grouping.keys.resize(head_dim);
  grouping.order.resize(head_dim);
  std::vector<float> dots(size_t(head_dim) * hash_bits, 0.0f), partial(dots.size());  // [D, P]
  if (hash == DistrHash::Int8) int8_dots(q, row_stride, rows, head_dim, projection, hash_bits, dots.data());
  for (int chunk = 0; hash == DistrHash::Fma && chunk < rows; chunk += kHashChunkRows) {
    const int chunk_end = std::min(rows, chunk + kHashChunkRows);
#if defined(DISTRVIT_X86_FEATURES)
    if (cpu_has_avx2_fma()) {
      add_chunk_dots_fma(q, row_stride, chunk, chunk_end, head_dim, projection, hash_bits, partial.data(),
                         dots.data());
      continue;
    }
#endif
    add_chunk_dots(q, row_stride, chunk, chunk_end, head_dim, projection, hash_bits, partial.data(), dots.data());
  }
  for (int c = 0; c < head_dim; ++c) {
    uint32_t code = 0;
    for (int bit = 0; bit < hash_bits; ++bit)
      if (dots[size_t(c) * hash_bits + bit] > 0) code |= uint32_t(1) << bit;
    grouping.codes[c] = code;
    grouping.keys[c] = inverse_gray_code(code);
  }
  std::iota(grouping.order.begin(), grouping.order.end(), 0);
  std::stable_sort(grouping.order.begin(), grouping.order.end(),
                   [&](int a, int b) { return grouping.keys[a] < grouping.keys[b]; });
  return grouping;
}

namespace {

// Calls block(q_fused [rows, E], k_fused [N, E], v [N, .], out [rows, .], rows) for every l-block of every (image,
// head): Q~ holds the mean (or first member) of each group of the block's Q columns, K~ the sum of each group's K
// columns, for all keys; v and out point at the block's head, with token strides p.qkv_token_stride and
// p.out_token_stride.
template <typename Block>
void for_each_fused_block(const AttentionParams& p, const DistrParams& distr, const Block& block_fn) {
  validate_distr(distr, p.head_dim);
  if (p.tokens < 1 || p.head_dim < 1) fail("distr", "need tokens >= 1 and head dim >= 1");
  const int n = p.tokens, d = p.head_dim, group = distr.group, fused = d / group;  // fused = E
  const int block = std::min(distr.block, n);
  const std::vector<float> projection = distr_projection(distr, block);  // [block, P]
  std::vector<float> q_fused(size_t(block) * fused);                     // [block, E]
  std::vector<float> k_fused(size_t(n) * fused);                         // [N, E]

  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      const float* q = p.q + b * p.qkv_batch_stride + h * p.qkv_head_stride;
      const float* k = p.k + b * p.qkv_batch_stride + h * p.qkv_head_stride;
      const float* v = p.v + b * p.qkv_batch_stride + h * p.qkv_head_stride;
      float* out = p.out + b * p.out_batch_stride + h * p.out_head_stride;
      for (int start = 0; start < n; start += block) {
        const int rows = std::min(block, n - start);  // the last block may be shorter
        const float* q_block = q + start * p.qkv_token_stride;
        const DistrBlockGrouping grouping =
            distr_group_block(q_block, p.qkv_token_stride, rows, d, projection.data(), distr.hash_bits, distr.hash);
        const std::vector<int>& order = grouping.order;
        for (int r = 0; r < rows; ++r) {
          const float* q_row = q_block + r * p.qkv_token_stride;
          for (int j = 0; j < fused; ++j) {
            float value;
            if (distr.variant == DistrVariant::Sample) {
              value = q_row[order[j * group]];
            } else {
              value = 0;
              for (int g = 0; g < group; ++g) value += q_row[order[j * group + g]];
              value /= float(group);
            }
            q_fused[size_t(r) * fused + j] = value;
          }
        }
        for (int t = 0; t < n; ++t) {
          const float* k_row = k + t * p.qkv_token_stride;
          for (int j = 0; j < fused; ++j) {
            float sum = 0;
            for (int g = 0; g < group; ++g) sum += k_row[order[j * group + g]];
            k_fused[size_t(t) * fused + j] = sum;
          }
        }
        block_fn(q_fused.data(), k_fused.data(), v, out + start * p.out_token_stride, rows);
      }
    }
  }
}

}  // namespace

void attention_distr_cpu(const AttentionParams& p, const DistrParams& distr) {
  const int n = p.tokens, d = p.head_dim, fused = d / std::max(1, distr.group);
  std::vector<float> scores(n);  // [N] one query row
  // O = softmax(s Q~ K~^T) V, one query row at a time.
  for_each_fused_block(p, distr, [&](const float* q_fused, const float* k_fused, const float* v, float* out, int rows) {
    for (int r = 0; r < rows; ++r) {
      attend_row_cpu(q_fused + size_t(r) * fused, k_fused, fused, fused, v, p.qkv_token_stride, n, d, p.scale,
                     scores.data(), out + r * p.out_token_stride);
    }
  });
}

void attention_distr_blas_cpu(const AttentionParams& p, const DistrParams& distr) {
  const int n = p.tokens, d = p.head_dim, fused = d / std::max(1, distr.group);
  std::vector<float> scores(size_t(std::min(std::max(distr.block, 1), n)) * n);  // [rows, N] one block
  for_each_fused_block(p, distr, [&](const float* q_fused, const float* k_fused, const float* v, float* out, int rows) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, fused, p.scale, q_fused, fused, k_fused, fused,
                0.0f, scores.data(), n);
    softmax_rows_cpu(scores.data(), rows, n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, n, 1.0f, scores.data(), n, v, p.qkv_token_stride,
                0.0f, out, p.out_token_stride);
  });
}

}  // namespace distrvit
