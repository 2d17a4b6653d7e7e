// DistrAttention CPU reference: the invariants of docs/distrattention.md section 1 and the pinned
// definitions of distrvit/distr.h (projection R, SimHash, Gray order, stable grouping).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "distrvit/attention.h"
#include "distrvit/distr.h"
#include "distrvit/error.h"

using namespace distrvit;

namespace {

// Deterministic N(0, 1) values for test inputs (independent of the projection's stream: other seeds).
struct TestRandom {
  uint64_t seed, index = 0;
  explicit TestRandom(uint64_t s) : seed(s ^ 0x5DEECE66Dull) {}
  double uniform() { return double((splitmix64_at(seed, index++) >> 11) + 1) * (1.0 / 9007199254740992.0); }
  float normal() { return float(std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform())); }
};

// Odd sizes for the DistrAttention checks: N tokens of head dim D, blocks of l rows, groups of G columns.
struct DistrShape {
  int tokens, head_dim, block, group;
};

// A fused qkv activation [B, N, 3, H, D] and its attention output [B, N, H, D].
struct Problem {
  int batch, tokens, heads, head_dim;
  std::vector<float> qkv, out;
  Problem(int b, int n, int h, int d, uint64_t seed) : batch(b), tokens(n), heads(h), head_dim(d) {
    qkv.resize(size_t(b) * n * 3 * h * d);
    out.resize(size_t(b) * n * h * d);
    TestRandom random(seed);
    for (float& x : qkv) x = random.normal();
  }
  AttentionParams params() { return AttentionParams::from_qkv(qkv.data(), out.data(), batch, tokens, heads, head_dim); }
  // Element (b, n, h, d) of q (which = 0), k (1) or v (2).
  float& at(int which, int b, int n, int h, int d) {
    return qkv[(((size_t(b) * tokens + n) * 3 + which) * heads + h) * head_dim + d];
  }
  std::vector<float> exact() {
    attention_exact_cpu(params());
    return out;
  }
  std::vector<float> distr(const DistrParams& distr) {
    attention_distr_cpu(params(), distr);
    return out;
  }
  std::vector<float> distr_blas(const DistrParams& distr) {
    attention_distr_blas_cpu(params(), distr);
    return out;
  }
};

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// ||a - b|| / ||b||
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += double(a[i] - b[i]) * (a[i] - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

DistrParams distr_params(int block, int group, DistrVariant variant = DistrVariant::Mean, uint64_t seed = 0) {
  DistrParams d;
  d.block = block;
  d.group = group;
  d.variant = variant;
  d.seed = seed;
  return d;
}

// Makes Q columns identical in runs of `group` consecutive columns (group*m .. group*m + group-1), in
// every row, batch and head. Why the invariant then holds for ANY projection: identical columns have
// identical codes and keys. In the stable argsort, a run of equal keys lists its columns in index order,
// and it consists of whole runs {group*m, ..., group*m + group-1} (a key is shared by all members of a
// run), so every run of equal keys has a length divisible by `group` and starts at a multiple of `group`
// in sorted order. Hence each group j of the sorted order is exactly one run of identical columns, the
// fused Q~ column equals that column (mean and sample alike), and Q~ K~^T = Q K^T up to rounding.
// (Duplicating column c with c + D/2 instead would NOT do: two runs with colliding keys would
// interleave as c1, c2, c1', c2'.)
void duplicate_q_columns(Problem& problem, int group) {
  for (int b = 0; b < problem.batch; ++b)
    for (int n = 0; n < problem.tokens; ++n)
      for (int h = 0; h < problem.heads; ++h)
        for (int d = 0; d < problem.head_dim; ++d)
          problem.at(0, b, n, h, d) = problem.at(0, b, n, h, d - d % group);
}

// An independent double-precision evaluation of section 1 for one (b, h), built only on the public
// grouping helper and R: block boundaries, Q~, K~, softmax and P V written out again.
std::vector<double> reference_head(Problem& problem, int b, int h, const DistrParams& distr) {
  const int n = problem.tokens, d = problem.head_dim, g = distr.group, e = d / g;
  const std::vector<float> projection = distr_projection(distr, distr.block);  // all l rows; blocks read a prefix
  const int64_t stride = 3 * int64_t(problem.heads) * d;
  std::vector<double> out(size_t(n) * d, 0.0);
  for (int start = 0; start < n; start += distr.block) {
    const int rows = std::min(distr.block, n - start);
    const DistrBlockGrouping grouping =
        distr_group_block(&problem.at(0, b, start, h, 0), stride, rows, d, projection.data(), distr.hash_bits);
    for (int i = start; i < start + rows; ++i) {
      std::vector<double> scores(n);
      for (int t = 0; t < n; ++t) {
        double dot = 0;
        for (int j = 0; j < e; ++j) {
          double q_fused = 0, k_fused = 0;
          for (int m = 0; m < g; ++m) {
            const int c = grouping.order[j * g + m];
            k_fused += problem.at(1, b, t, h, c);
            if (distr.variant == DistrVariant::Mean) q_fused += problem.at(0, b, i, h, c) / double(g);
          }
          if (distr.variant == DistrVariant::Sample) q_fused = problem.at(0, b, i, h, grouping.order[j * g]);
          dot += q_fused * k_fused;
        }
        scores[t] = dot / std::sqrt(double(d));
      }
      const double top = *std::max_element(scores.begin(), scores.end());
      double sum = 0;
      for (double& s : scores) sum += (s = std::exp(s - top));
      for (int t = 0; t < n; ++t)
        for (int c = 0; c < d; ++c) out[size_t(i) * d + c] += scores[t] / sum * problem.at(2, b, t, h, c);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("distr: projection R is splitmix64 + Box-Muller, pinned values") {
  // splitmix64 from state 0: the published reference stream starts with 0xe220a8397b1dcdaf.
  CHECK(splitmix64_at(0, 0) == 0xe220a8397b1dcdafull);
  CHECK(splitmix64_at(0, 1) == 0x6e789e6aa1b965f4ull);
  CHECK(splitmix64_at(1234567, 0) == 0x599ed017fb08fc85ull);

  // Values from an independent Python implementation of the definition in distr.h.
  struct Pinned {
    uint64_t seed;
    float values[6];
  };
  const Pinned pinned[] = {
      {0, {-0.452757746f, 2.65060592f, -0.988604128f, 0.252462715f, 1.59999359f, 0.0942334011f}},
      {42, {0.41471976f, -0.891886234f, 1.72959304f, 0.545620441f, -1.08041298f, -1.77884805f}},
  };
  for (const Pinned& p : pinned) {
    DistrParams d;
    d.seed = p.seed;
    d.hash_bits = 3;
    const std::vector<float> r = distr_projection(d, 2);  // [2, 3]: elements 0..5 in row-major order
    REQUIRE(r.size() == 6);
    for (int i = 0; i < 6; ++i) CHECK(r[i] == doctest::Approx(p.values[i]).epsilon(1e-6));
  }

  DistrParams d;  // P = 16
  const std::vector<float> full = distr_projection(d, 64);
  const std::vector<float> prefix = distr_projection(d, 5);
  REQUIRE(full.size() == 64 * 16);
  CHECK(std::equal(prefix.begin(), prefix.end(), full.begin()));  // shorter blocks use the first rows
  CHECK(distr_projection(d, 64) == full);                          // deterministic

  double mean = 0, var = 0;
  for (float x : full) mean += x;
  mean /= full.size();
  for (float x : full) var += (x - mean) * (x - mean);
  var /= full.size();
  CHECK(std::abs(mean) < 0.1);
  CHECK(std::abs(var - 1.0) < 0.15);

  d.seed = 1;
  CHECK(distr_projection(d, 64) != full);
}

TEST_CASE("distr: SimHash codes, inverse Gray keys and stable order on a hand-made block") {
  for (uint32_t v = 0; v < 4096; ++v) CHECK(inverse_gray_code(gray_code(v)) == v);
  CHECK(inverse_gray_code(gray_code(0xDEADBEEFu)) == 0xDEADBEEFu);
  // Gray sequence of 2-bit codes: 00, 01, 11, 10 -> keys 0, 1, 2, 3.
  CHECK(inverse_gray_code(0) == 0);
  CHECK(inverse_gray_code(1) == 1);
  CHECK(inverse_gray_code(3) == 2);
  CHECK(inverse_gray_code(2) == 3);

  // R = identity [2 rows, 2 bits]: bit 0 = (row 0 > 0), bit 1 = (row 1 > 0).
  const float projection[] = {1, 0, 0, 1};
  // Q block of 2 rows x 6 columns, stored with row stride 9 to exercise strides.
  const float columns[6][2] = {{1, 1}, {-1, -1}, {1, -1}, {-1, 1}, {2, 3}, {0, -1}};
  std::vector<float> q(2 * 9, 99.0f);
  for (int c = 0; c < 6; ++c)
    for (int r = 0; r < 2; ++r) q[r * 9 + c] = columns[c][r];
  const DistrBlockGrouping g = distr_group_block(q.data(), 9, 2, 6, projection, 2);
  CHECK(g.codes == std::vector<uint32_t>{3, 0, 1, 2, 3, 0});  // 0 is not > 0
  CHECK(g.keys == std::vector<uint32_t>{2, 0, 1, 3, 2, 0});
  CHECK(g.order == std::vector<int>{1, 5, 2, 0, 4, 3});  // equal keys keep column order

  // Only the first `rows` rows of R are read: a one-row block ignores row 1 of R.
  const DistrBlockGrouping one_row = distr_group_block(q.data(), 9, 1, 6, projection, 2);
  CHECK(one_row.codes == std::vector<uint32_t>{1, 0, 1, 0, 1, 0});
}

TEST_CASE("distr: SimHash dots of long blocks are sums of 256-row chunk sums") {
  // One column of ones, one bit, 512 rows. R: row 0 = 1e8, row 256 = -1e8, every other row 1. In fp32 each +1
  // is lost next to +-1e8 (its ulp is 8), so chunk 0 sums to 1e8 and chunk 1 to -1e8: dot = 0, bit clear.
  // One plain ascending sum would reach 0 at row 256 and then count the 255 ones after it: bit set.
  static_assert(kHashChunkRows == 256, "the rows below place +-1e8 at the chunk starts");
  const int rows = 512;
  std::vector<float> q(rows, 1.0f), projection(rows, 1.0f);
  projection[0] = 1e8f;
  projection[256] = -1e8f;
  CHECK(distr_group_block(q.data(), 1, rows, 1, projection.data(), 1).codes == std::vector<uint32_t>{0});
  // Both +-1e8 in chunk 0 (1e8, 254 lost ones, -1e8: sum 0), then chunk 1's 256 ones: dot = 256, bit set.
  std::vector<float> one_chunk(rows, 1.0f);
  one_chunk[0] = 1e8f;
  one_chunk[255] = -1e8f;
  CHECK(distr_group_block(q.data(), 1, rows, 1, one_chunk.data(), 1).codes == std::vector<uint32_t>{1});
}

TEST_CASE("distr: SimHash dots are fused multiply-adds") {
  // Row 0 gives -(1 + 2^-11); row 1's product (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 needs 25 bits. A fused
  // multiply-add keeps the 2^-24: dot > 0, bit set. A rounded product (a tie, to even: 1 + 2^-11) would give 0.
  const float a = 1.0f + std::ldexp(1.0f, -12);
  const std::vector<float> q = {-(1.0f + std::ldexp(1.0f, -11)), a}, projection = {1.0f, a};
  CHECK(distr_group_block(q.data(), 1, 2, 1, projection.data(), 1).codes == std::vector<uint32_t>{1});
}

TEST_CASE("distr: Int8 hash, pinned on a hand-made column") {
  // R = (0.5, -0.25) -> r8 = (16, -8). Column (1, 1.999): max 1.999, exponent 0, k = 5 -> q8 = (32, rint(63.968) = 64)
  // -> dot 512 - 512 = 0: bit clear. In fp32 the dot is 0.5 - 0.49975 > 0: bit set.
  const std::vector<float> q = {1.0f, 1.999f}, projection = {0.5f, -0.25f};
  CHECK(distr_group_block(q.data(), 1, 2, 1, projection.data(), 1, DistrHash::Fma).codes == std::vector<uint32_t>{1});
  CHECK(distr_group_block(q.data(), 1, 2, 1, projection.data(), 1, DistrHash::Int8).codes ==
        std::vector<uint32_t>{0});
  // Scale and quantizers.
  CHECK(i8_column_scale(1.999f) == 32.0f);
  CHECK(i8_column_scale(2.0f) == 16.0f);
  CHECK(i8_column_scale(0.0f) == 32768.0f);  // k capped at 15
  CHECK(i8_column_scale(65504.0f) == std::ldexp(1.0f, -10));
  CHECK(i8_quantize(1.5f / 32, 32.0f) == 2);  // ties to even
  CHECK(i8_quantize(2.5f / 32, 32.0f) == 2);
  CHECK(i8_quantize(-0.5f, 1.0f) == 0);
  CHECK(i8_projection(10.0f) == 127);
  CHECK(i8_projection(-10.0f) == -127);
  CHECK(i8_projection(0.5f / 32 * 3) == 2);  // 1.5 -> 2
}

TEST_CASE("distr: Int8 hash codes ignore a power-of-two scale of a column, and agree with Fma on most bits") {
  const int rows = 64, d = 64, bits = 16;
  TestRandom random(5);
  std::vector<float> q(size_t(rows) * d), scaled(q.size());
  for (float& v : q) v = random.normal();
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < d; ++c) scaled[r * d + c] = q[r * d + c] * std::ldexp(1.0f, c % 7 - 3);
  DistrParams params;
  params.hash_bits = bits;
  const std::vector<float> projection = distr_projection(params, rows);
  const auto int8 = distr_group_block(q.data(), d, rows, d, projection.data(), bits, DistrHash::Int8);
  const auto int8_scaled = distr_group_block(scaled.data(), d, rows, d, projection.data(), bits, DistrHash::Int8);
  const auto fma = distr_group_block(q.data(), d, rows, d, projection.data(), bits, DistrHash::Fma);
  CHECK(int8.codes == int8_scaled.codes);
  int same_bits = 0;
  for (int c = 0; c < d; ++c) same_bits += bits - __builtin_popcount(int8.codes[c] ^ fma.codes[c]);
  CHECK(same_bits > d * bits * 95 / 100);  // only dots near 0 may differ
  CHECK(same_bits < d * bits);              // ... and some do: the hashes are not the same function
}

TEST_CASE("distr: G=1 equals exact attention") {
  struct Shape {
    int batch, tokens, heads, head_dim, block;
  };
  for (const Shape s : {Shape{2, 197, 3, 64, 64}, Shape{1, 33, 2, 128, 16}, Shape{1, 7, 1, 64, 16},
                        Shape{1, 50, 2, 64, 8}}) {
    for (DistrVariant variant : {DistrVariant::Mean, DistrVariant::Sample})
      for (DistrHash hash : {DistrHash::Fma, DistrHash::Int8}) {
        CAPTURE(s.tokens);
        CAPTURE(s.head_dim);
        Problem problem(s.batch, s.tokens, s.heads, s.head_dim, 11);
        const std::vector<float> exact = problem.exact();
        DistrParams params = distr_params(s.block, 1, variant);
        params.hash = hash;
        const std::vector<float> distr = problem.distr(params);
        CHECK(max_abs_diff(distr, exact) < 1e-5f);
      }
  }
}

TEST_CASE("distr: identical grouped Q columns give exact attention") {
  const DistrShape shapes[] = {{197, 64, 64, 2}, {197, 128, 16, 2}, {33, 64, 16, 2}, {7, 64, 16, 2}, {33, 128, 64, 4},
                               {197, 64, 16, 4}};
  for (const DistrShape& s : shapes) {
    for (DistrVariant variant : {DistrVariant::Mean, DistrVariant::Sample}) {
      for (uint64_t seed : {0ull, 5ull}) {
        CAPTURE(s.tokens);
        CAPTURE(s.head_dim);
        CAPTURE(s.block);
        CAPTURE(s.group);
        Problem problem(2, s.tokens, 3, s.head_dim, 21);
        duplicate_q_columns(problem, s.group);
        DistrParams distr = distr_params(s.block, s.group, variant, seed);
        distr.hash = seed == 5 ? DistrHash::Int8 : DistrHash::Fma;

        // The construction's premise: every group is exactly one run of identical columns.
        const std::vector<float> projection = distr_projection(distr, s.block);
        const int rows = std::min(s.block, s.tokens);
        const DistrBlockGrouping grouping =
            distr_group_block(&problem.at(0, 1, 0, 2, 0), 3 * 3 * s.head_dim, rows, s.head_dim, projection.data(),
                              distr.hash_bits, distr.hash);
        for (int j = 0; j < s.head_dim / s.group; ++j)
          for (int m = 0; m < s.group; ++m)
            CHECK(grouping.order[j * s.group + m] == grouping.order[j * s.group] + m);

        const std::vector<float> exact = problem.exact();
        const std::vector<float> distr_out = problem.distr(distr);
        CHECK(max_abs_diff(distr_out, exact) < 2e-5f);
      }
    }
  }
}

TEST_CASE("distr: matches an independent double-precision evaluation at odd sizes (last block shorter)") {
  const DistrShape shapes[] = {{7, 64, 16, 2}, {197, 64, 64, 2}, {197, 64, 16, 4}, {33, 128, 16, 2}, {33, 64, 64, 2},
                               {197, 128, 64, 2}};
  for (const DistrShape& s : shapes) {
    for (DistrVariant variant : {DistrVariant::Mean, DistrVariant::Sample}) {
      CAPTURE(s.tokens);
      CAPTURE(s.block);
      CAPTURE(s.group);
      Problem problem(2, s.tokens, 2, s.head_dim, 31);
      const DistrParams distr = distr_params(s.block, s.group, variant, 3);
      const std::vector<float> out = problem.distr(distr);
      float worst = 0;
      for (int b = 0; b < 2; ++b)
        for (int h = 0; h < 2; ++h) {
          const std::vector<double> ref = reference_head(problem, b, h, distr);
          for (int n = 0; n < s.tokens; ++n)
            for (int c = 0; c < s.head_dim; ++c) {
              const float got = out[((size_t(b) * s.tokens + n) * 2 + h) * s.head_dim + c];
              worst = std::max(worst, float(std::abs(got - ref[size_t(n) * s.head_dim + c])));
            }
        }
      CHECK(worst < 2e-5f);
    }
  }
}

TEST_CASE("distr: the CPU engine's BLAS path matches the reference at odd sizes, both hashes, both variants") {
  const DistrShape shapes[] = {{7, 64, 16, 2}, {197, 64, 16, 2}, {197, 64, 64, 4}, {33, 128, 16, 2}, {61, 64, 61, 8},
                               {50, 64, 7, 2}};
  for (const DistrShape& s : shapes) {
    for (DistrVariant variant : {DistrVariant::Mean, DistrVariant::Sample}) {
      for (DistrHash hash : {DistrHash::Fma, DistrHash::Int8}) {
        CAPTURE(s.tokens);
        CAPTURE(s.block);
        CAPTURE(s.group);
        Problem problem(2, s.tokens, 3, s.head_dim, 41);
        DistrParams distr = distr_params(s.block, s.group, variant, 5);
        distr.hash = hash;
        const std::vector<float> reference = problem.distr(distr);
        std::fill(problem.out.begin(), problem.out.end(), NAN);
        CHECK(max_abs_diff(problem.distr_blas(distr), reference) < 1e-5f);
      }
    }
  }
}

TEST_CASE("distr: each block's grouping depends only on its own query rows") {
  // N = 33, l = 16: blocks [0, 16), [16, 32), [32, 33). Changing the Q rows of the middle block changes
  // the middle block's outputs only.
  Problem problem(1, 33, 1, 64, 41);
  const DistrParams distr = distr_params(16, 2);
  const std::vector<float> before = problem.distr(distr);
  TestRandom random(99);
  for (int n = 16; n < 32; ++n)
    for (int c = 0; c < 64; ++c) problem.at(0, 0, n, 0, c) = random.normal();
  const std::vector<float> after = problem.distr(distr);
  for (int n = 0; n < 33; ++n) {
    float diff = 0;
    for (int c = 0; c < 64; ++c) diff = std::max(diff, std::abs(before[n * 64 + c] - after[n * 64 + c]));
    CAPTURE(n);
    if (n >= 16 && n < 32) {
      CHECK(diff > 1e-4f);
    } else {
      CHECK(diff == 0.0f);
    }
  }
}

TEST_CASE("distr: different seeds give different but close results") {
  // Unstructured Q: each seed groups differently, so outputs differ, but no seed is a better or worse
  // approximation than another: the errors against exact agree closely.
  Problem problem(2, 197, 3, 64, 51);
  const std::vector<float> exact = problem.exact();
  std::vector<std::vector<float>> outs;
  std::vector<double> errors;
  for (uint64_t seed : {0ull, 1ull, 2ull, 3ull}) {
    outs.push_back(problem.distr(distr_params(64, 2, DistrVariant::Mean, seed)));
    errors.push_back(relative_error(outs.back(), exact));
  }
  const double mean_error = (errors[0] + errors[1] + errors[2] + errors[3]) / 4;
  for (size_t i = 0; i < outs.size(); ++i) {
    CAPTURE(i);
    CAPTURE(errors[i]);
    CHECK(std::abs(errors[i] - mean_error) < 0.1 * mean_error);
    for (size_t j = i + 1; j < outs.size(); ++j) CHECK(max_abs_diff(outs[i], outs[j]) > 1e-3f);
  }
  // The permutations differ too (the grouping is what the seed changes).
  DistrParams a = distr_params(64, 2, DistrVariant::Mean, 0), b = distr_params(64, 2, DistrVariant::Mean, 1);
  const std::vector<float> ra = distr_projection(a, 64), rb = distr_projection(b, 64);
  const int64_t stride = 3 * 3 * 64;
  CHECK(distr_group_block(&problem.at(0, 0, 0, 0, 0), stride, 64, 64, ra.data(), 16).order !=
        distr_group_block(&problem.at(0, 0, 0, 0, 0), stride, 64, 64, rb.data(), 16).order);

  // Q columns nearly equal in adjacent pairs: every seed finds the pairs, so every seed is far closer to
  // exact than on unstructured Q. (Not arbitrarily close: a pair whose two columns hash apart shifts all
  // later groups of its block by one column, a property of consecutive grouping.)
  Problem paired(2, 197, 3, 64, 51);
  duplicate_q_columns(paired, 2);
  TestRandom random(7);
  for (int bb = 0; bb < 2; ++bb)
    for (int n = 0; n < 197; ++n)
      for (int h = 0; h < 3; ++h)
        for (int c = 1; c < 64; c += 2) paired.at(0, bb, n, h, c) += 0.002f * random.normal();
  const std::vector<float> paired_exact = paired.exact();
  for (uint64_t seed : {0ull, 1ull, 2ull, 3ull}) {
    const double error = relative_error(paired.distr(distr_params(64, 2, DistrVariant::Mean, seed)), paired_exact);
    CAPTURE(seed);
    CAPTURE(error);
    CHECK(error < 0.5 * mean_error);
  }
}

TEST_CASE("distr: mean and sample variants differ") {
  Problem problem(1, 197, 3, 64, 61);
  const std::vector<float> mean = problem.distr(distr_params(64, 2, DistrVariant::Mean));
  const std::vector<float> sample = problem.distr(distr_params(64, 2, DistrVariant::Sample));
  CHECK(max_abs_diff(mean, sample) > 1e-3f);
}

TEST_CASE("distr: error against exact grows with G") {
  for (int head_dim : {64, 128}) {
    Problem problem(1, 197, 3, head_dim, 71);
    const std::vector<float> exact = problem.exact();
    double previous = -1;
    for (int group : {1, 2, 4, 8}) {
      const double error = relative_error(problem.distr(distr_params(64, group)), exact);
      CAPTURE(head_dim);
      CAPTURE(group);
      CAPTURE(error);
      if (group == 1) CHECK(error < 1e-5);
      CHECK(error > previous);
      previous = error;
    }
  }
}

TEST_CASE("distr: bad parameters are rejected") {
  Problem problem(1, 7, 1, 64, 81);
  CHECK_THROWS_WITH_AS(problem.distr(distr_params(16, 3)), "distr: head dim 64 is not divisible by group size G=3",
                       Error);
  CHECK_THROWS_AS(problem.distr(distr_params(0, 2)), Error);
  CHECK_THROWS_AS(problem.distr(distr_params(16, 0)), Error);
  DistrParams bits = distr_params(16, 2);
  bits.hash_bits = 0;
  CHECK_THROWS_AS(problem.distr(bits), Error);
  bits.hash_bits = 33;
  CHECK_THROWS_AS(problem.distr(bits), Error);
  CHECK_THROWS_AS(distr_projection(bits, 16), Error);
  bits.hash_bits = 32;  // the widest code
  CHECK_NOTHROW(problem.distr(bits));
}
