// DistrAttention building blocks shared by the CPU reference (attention_distr_cpu) and the CUDA kernel:
// the seeded Gaussian projection R, SimHash codes, the Gray-order column permutation of one Q block.
// See docs/distrattention.md section 1 for the method; this header pins down every detail the doc leaves
// open so that all backends compute the same grouping.
//
// Definitions (normative: the CUDA kernel must reproduce them bit for bit where they are integer):
//
// R, the projection [rows, P] (row-major: R[row * P + bit]), drawn from DistrParams::seed:
//   splitmix64 with state s0 = seed; output k (k = 0, 1, 2, ...) is
//       z = seed + (k + 1) * 0x9E3779B97F4A7C15            (mod 2^64)
//       z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
//       z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//       out_k = z ^ (z >> 31)
//   Element e = row * P + bit uses outputs 2e and 2e+1, in double precision:
//       u1 = ((out_{2e} >> 11) + 1) * 2^-53        in (0, 1]
//       u2 =  (out_{2e+1} >> 11)     * 2^-53        in [0, 1)
//       R[e] = float( sqrt(-2 ln u1) * cos(2 pi u2) )   (Box-Muller, cosine branch only)
//   Element e depends only on (seed, e), so R for fewer rows is a prefix of R for more rows (same P):
//   a block shorter than l (the last block of a head) uses the first rows of R.
//
// SimHash code of column c of a Q block with `rows` rows (rows <= l), all in fp32:
//   partial_{k,p} = the sum over the rows r of chunk k (rows k*256 .. min(rows, k*256 + 256) - 1) of
//                   Q[r, c] * R[r, p] as fused multiply-adds in ascending r: acc = fma(Q[r, c], R[r, p], acc),
//                   one rounding per row, from acc = 0   (chunks of kHashChunkRows = 256 rows)
//   dot_p = sum over k = 0, 1, ... in ascending k of partial_{k,p}, starting from 0
//   (for rows <= 256 that is the plain ascending sum; the chunks let the GPU spread long blocks over SMs)
//   bit p of the code (bit position p, least significant = p 0) = dot_p > 0.
// With DistrParams::hash = Int8 the dots are exact integers instead (the same R, the same code from here on):
//   m_c   = max over the block's rows of |Q[r, c]| (fp32)
//   k_c   = min(5 - e_c, 15), e_c = the exponent field of m_c as fp32 minus 127 (so m_c 2^k_c is in [32, 64))
//   q8    = rint(Q[r, c] * 2^k_c), ties to even (in [-64, 64]; the product is exact, bar underflow to 0)
//   r8    = clamp(rint(32 R[r, p]), -127, 127), ties to even
//   dot_p = sum over all rows of q8 * r8 in exact integer arithmetic (any order; |dot_p| < 2^31 for l < 2^18)
//   Multiplying a column by a positive constant changes m_c's exponent, not its signs: this is SimHash of the
//   column rounded to 6-7 bits, with R rounded to 8 bits. It lets the GPU hash with int8 tensor-core products.
// Sort key = inverse Gray code of the code: key = code ^ (code >> 1) ^ (code >> 2) ^ ... (prefix xor),
//   so sorting by key walks the codes along the binary-reflected Gray sequence.
// Permutation pi = stable argsort of the D keys, ascending (equal keys keep column order).
// Group j (j = 0 .. D/G - 1) = { pi[j*G], ..., pi[j*G + G - 1] }.
// Q~[:, j] = mean of the group's Q columns (variant mean; summed in group order, then divided by G)
//          or Q[:, pi[j*G]] (variant sample).
// K~[:, j] = sum of the group's K columns in group order, for every one of the N keys.
// Scores = scale * Q~ K~^T with the same scale as exact attention (1/sqrt(D)); P V stays exact.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "distrvit/attention.h"

#if defined(__CUDACC__)
#define DISTRVIT_HOST_DEVICE __host__ __device__
#else
#define DISTRVIT_HOST_DEVICE
#endif

namespace distrvit {

constexpr int kMaxHashBits = 32;
constexpr int kHashChunkRows = 256;  // rows per partial sum of a SimHash dot (see above)
constexpr int kMaxInt8BlockRows = 1 << 18;  // Int8 hash: blocks of fewer rows (int32 dots on the GPU)

// Throws Error("distr: ...") unless block >= 1, group >= 1, 1 <= hash_bits <= 32 and, when head_dim > 0,
// head_dim is divisible by group.
void validate_distr(const DistrParams& distr, int head_dim = 0);

// The i-th output (i = 0, 1, ...) of splitmix64 started from state `seed` (see above).
uint64_t splitmix64_at(uint64_t seed, uint64_t index);

// R [block_rows, hash_bits] row-major, fp32, drawn from distr.seed as defined above.
std::vector<float> distr_projection(const DistrParams& distr, int block_rows);

// Binary-reflected Gray code and its inverse (prefix xor).
DISTRVIT_HOST_DEVICE inline uint32_t gray_code(uint32_t value) { return value ^ (value >> 1); }
DISTRVIT_HOST_DEVICE inline uint32_t inverse_gray_code(uint32_t code) {
  for (uint32_t shift = 1; shift < 32; shift <<= 1) code ^= code >> shift;
  return code;
}

// Int8 hash (above): 2^k_c for a column whose largest |value| is max_abs.
DISTRVIT_HOST_DEVICE inline float i8_column_scale(float max_abs) {
  uint32_t bits;
#if defined(__CUDA_ARCH__)
  bits = __float_as_uint(max_abs);
#else
  std::memcpy(&bits, &max_abs, sizeof bits);
#endif
  const int exponent = int((bits >> 23) & 0xffu) - 127;
  const int k = 5 - exponent < 15 ? 5 - exponent : 15;  // >= -122: 2^k is a normal float
  const uint32_t scale_bits = uint32_t(k + 127) << 23;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(scale_bits);
#else
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return scale;
#endif
}
// q8 = rint(value * scale), ties to even (NaN -> 0 and saturation to the int range, as cvt.rni.s32.f32).
DISTRVIT_HOST_DEVICE inline int i8_quantize(float value, float scale) {
#if defined(__CUDA_ARCH__)
  return __float2int_rn(__fmul_rn(value, scale));
#else
  const float v = std::nearbyint(value * scale);
  if (!(v == v)) return 0;
  return v >= 2147483648.0f ? 2147483647 : v < -2147483648.0f ? int(-2147483647 - 1) : int(v);
#endif
}
// r8 = clamp(rint(32 r), -127, 127), ties to even.
DISTRVIT_HOST_DEVICE inline int i8_projection(float r) {
#if defined(__CUDA_ARCH__)
  const int v = __float2int_rn(__fmul_rn(r, 32.0f));
#else
  const int v = int(std::nearbyint(r * 32.0f));
#endif
  return v < -127 ? -127 : v > 127 ? 127 : v;
}

// Grouping of one Q block.
struct DistrBlockGrouping {
  std::vector<uint32_t> codes;  // [D] SimHash code of each Q column
  std::vector<uint32_t> keys;   // [D] inverse_gray_code(codes[c])
  std::vector<int> order;       // [D] pi: stable argsort of keys; group j = order[j*G .. j*G+G-1]
};

// Hashes and sorts the D columns of one Q block. q points at row 0, column 0 of the block; row r,
// column c is q[r * row_stride + c]. projection is R with at least `rows` rows of hash_bits columns
// (distr_projection's layout); only its first `rows` rows are read.
DistrBlockGrouping distr_group_block(const float* q, int64_t row_stride, int rows, int head_dim,
                                     const float* projection, int hash_bits, DistrHash hash = DistrHash::Fma);

}  // namespace distrvit
