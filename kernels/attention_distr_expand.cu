// DistrAttention's grouping prologue for short blocks (l <= 64, P <= 16, head_dim 64 / 128, fp16 / bf16), writing
// the expanded Q' of the expanded path (attention_distr.cu, item 5): Q'[r, c] = Q~[r, group of c].
// Persistent: one wave of thread blocks of kItems pairs of warps; each pair loops over (b, h, l-block) items, fetching
// the next item's rows while it works on the current one. Per item only the pair meets (named barriers):
//   1. the item's Q rows arrive in the pair's shared memory (cp.async, double-buffered); R [rows][16] fp32 (zeros
//      past P and l) was copied once per thread block;
//   2. warp h of the pair owns bits 8 h .. 8 h + 7, lane t columns 64 i + 2 t + {0, 1} (i < D / 64): the SimHash dots
//      as fused multiply-adds in ascending rows (distr.h; one 256-row chunk, since l <= 64), no sum across lanes;
//      Int8 hash (DistrHash::Int8): warp h owns columns [h D / 2, + D / 2): column maxima, int8 columns transposed in
//      shared memory, the dots on the tensor cores (mma.m16n8k32.s8); one buffer of Q rows per pair;
//   3. code -> inverse Gray key; rank by counting the smaller (key, column) values; perm and the inverse;
//   4. Q' rows, alternating between the two warps: lane t computes group t (+ 32 s) of the row once (mean: sum in
//      group order, then one rounding of sum / G, exactly as fuse_rows), then fetches its two columns' values by
//      shuffles; 128-byte stores per warp and row.
// Same grouping and the same Q~ values, bit for bit, as distr_group_kernel (attention_distr.cu), which serves every
// other case (longer blocks, P > 16, unaligned rows) with GroupShape::expanded.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>

#include "attention_common.cuh"
#include "attention_distr.cuh"
#include "attention_distr_int8.cuh"
#include "cuda_check.h"
#include "distrvit/distr.h"
#include "dtype_util.cuh"
#include "pdl.cuh"

namespace distrvit::cuda::distr {
namespace {

constexpr int kItems = 4;               // (b, h, l-block) items per thread block, two warps each
constexpr int kThreads = kItems * 64;
constexpr int kMaxRows = 64;            // l
constexpr int kBits = 16;               // R columns in shared memory (P <= 16, zeros past P)
constexpr int kHalfBits = kBits / 2;    // per warp of a pair

constexpr int kQ8Pitch = kMaxRows + 16;  // bytes per column of the transposed int8 Q (conflict-free ldmatrix)

// Shared memory for blocks of up to `rows` rows (a multiple of 16). Fma hash: R [rows][16] fp32, then per pair two
// buffers of Q rows [2][rows][D] (T, 16 bits), sort keys [D] uint32, code bytes [2][D], order [D] and rank [D] uint8.
// Int8 hash: R as mma B fragments [kB8Words][32] uint32; per pair one buffer of Q rows (so that four thread blocks
// fit per SM), the same sort arrays and the int8 Q, transposed [D][kQ8Pitch].
constexpr int kB8Words = kMaxRows / 32 * 2 * 2;  // per lane: k-steps x n-tiles x k halves
struct ExpandSmem {
  int r_bytes, buffers, item_bytes;
  __host__ __device__ ExpandSmem(int rows, int D, bool int8)
      : r_bytes(int8 ? kB8Words * 32 * 4 : rows * kBits * 4),
        buffers(int8 ? 1 : 2),
        item_bytes(buffers * rows * D * 2 + D * 8 + (int8 ? D * kQ8Pitch : 0)) {}
  __host__ __device__ int bytes() const { return r_bytes + kItems * item_bytes; }
};

// Persistent: pair j of the grid's P = gridDim.x * kItems pairs takes items j, 2 P - 1 - j, 2 P + j, ... (a
// boustrophedon, so the short last l-blocks of the heads spread over the pairs), fetching the rows of its next item
// while it works on the current one. items = B*H * nblocks, item = bh * nblocks + l-block; q_out [B*H][N][D];
// perm [B*H][nblocks][D]; rows_cap = block_len rounded up to 16. At most 80 (Int8: 64) registers: three (four)
// thread blocks per SM (left alone, ptxas picks 64 and spills at D = 128).
template <typename T, int D, int G, bool kInt8>
__global__ void __launch_bounds__(kThreads, kInt8 ? 4 : 3)
    distr_expand_short_kernel(const AttentionDeviceParams p, const float* __restrict__ projection, const int block_len,
                              const int rows_cap, const int nblocks, const int hash_bits, const bool sample,
                              uint8_t* __restrict__ perm, T* __restrict__ q_out) {
  constexpr int kPairs = D / 64;  // column pairs per lane
  extern __shared__ __align__(16) unsigned char smem[];
  const ExpandSmem layout(rows_cap, D, kInt8);
  float* s_r = reinterpret_cast<float*>(smem);  // Fma: [rows_cap][16]
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, pair = warp / 2, half = warp % 2;
  unsigned char* ism = smem + layout.r_bytes + pair * layout.item_bytes;
  T* s_rows = reinterpret_cast<T*>(ism);                                                   // [buffers][rows_cap][D]
  uint32_t* s_keys = reinterpret_cast<uint32_t*>(s_rows + layout.buffers * rows_cap * D);  // [D]
  uint8_t* s_code = reinterpret_cast<uint8_t*>(s_keys + D);                   // [2][D]: bits 0-7, 8-15
  uint8_t* s_order = s_code + 2 * D;                                          // [D]
  uint8_t* s_rank = s_order + D;                                              // [D]
  uint8_t* s_q8 = s_rank + D;                                                 // Int8: [D][kQ8Pitch]
  auto pair_sync = [&] { asm volatile("bar.sync %0, 64;\n" ::"r"(1 + pair) : "memory"); };

  const int64_t items = int64_t(p.batch) * p.heads * nblocks;
  const int64_t pairs = int64_t(gridDim.x) * kItems, first = int64_t(blockIdx.x) * kItems + pair;
  auto item_of_round = [&](int64_t round) { return round * pairs + (round % 2 ? pairs - 1 - first : first); };
  struct Item {
    int bh, start, rows;
  };
  auto describe = [&](int64_t item) {
    const int bh = int(item / nblocks), start = int(item % nblocks) * block_len;
    return Item{bh, start, min(block_len, p.tokens - start)};
  };
  // This warp's half of the item's rows -> s_rows[buffer], one cp.async group.
  constexpr int kPieces = D * int(sizeof(T)) / 16;  // 16-byte pieces of a row (a divisor of 64)
  auto fetch = [&](int64_t item, int buffer) {
    if (item < items) {
      const Item it = describe(item);
      const int b = it.bh / p.heads, h = it.bh % p.heads;
      const T* gq = static_cast<const T*>(p.q) + int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride +
                    int64_t(it.start) * p.qkv_token_stride;
      // Piece (t % kPieces) of rows t / kPieces + k kRowStep, t = the pair's thread.
      constexpr int kRowStep = 64 / kPieces;
      const int t = half * 32 + lane, r0 = t / kPieces, piece = t % kPieces;
      const T* src = gq + int64_t(r0) * p.qkv_token_stride + piece * 8;
      uint32_t dst = ptx::smem_addr(s_rows + buffer * rows_cap * D + r0 * D + piece * 8);
      for (int r = r0; r < it.rows; r += kRowStep, src += kRowStep * p.qkv_token_stride, dst += kRowStep * D * 2)
        ptx::cp_async_16(dst, src, true);
    }
    ptx::cp_async_commit();
  };

  // A dependent launch (its start hides behind the kernel before), but it does not release the forward early: the
  // forward blocks would hold shared memory while they wait, and fetching K/V early measured 2 us slower at 197
  // (BENCHMARKS.md).
  wait_for_preceding_kernels();
  fetch(item_of_round(0), 0);
  constexpr int kKSteps = kMaxRows / 32;
  uint32_t* s_b8 = reinterpret_cast<uint32_t*>(smem);  // Int8: B fragments [k-step][n-tile][k half][lane]
  if constexpr (kInt8) {
    for (int i = tid; i < kB8Words * 32; i += kThreads)
      s_b8[i] = r8_fragment_word(projection, block_len, hash_bits, i / 128, i / 64 % 2, i / 32 % 2, i % 32);
  } else {
    for (int i = tid; i < rows_cap * kBits; i += kThreads) {
      const int r = i / kBits, bit = i % kBits;
      s_r[i] = r < block_len && bit < hash_bits ? projection[r * hash_bits + bit] : 0.0f;
    }
  }
  __syncthreads();  // R or its fragments

  for (int64_t round = 0;; ++round) {
    const int64_t item = item_of_round(round);
    if (item >= items) break;  // both warps of the pair
    const int buffer = layout.buffers == 2 ? int(round % 2) : 0;
    if (layout.buffers == 2) {
      fetch(item_of_round(round + 1), buffer ^ 1);
      ptx::cp_async_wait<1>();  // this warp's rows of `item`
    } else {
      ptx::cp_async_wait<0>();
    }
    pair_sync();  // and the other warp's
    const Item it = describe(item);
    const T* s_q = s_rows + buffer * rows_cap * D;

    const uint32_t* q_words = reinterpret_cast<const uint32_t*>(s_q);  // two columns per word
    constexpr int kColsPerLane = D / 64;  // columns per lane in the ranking (3.)
    const int c0 = half * (D / 2) + lane * kColsPerLane;
    if constexpr (kInt8) {
      // 2. Warp `half` takes columns [half D / 2, + D / 2): lane t the column pair of word w = t % W (W = D / 4 words)
      // over rows t / W, + 32 / W, ...: column maxima (shuffles join the lanes of a word), then q8 = rint(q 2^k) as
      // the low byte of fma(q, 2^k, 1.5 2^23) (fp16: of a half fma with 1536), transposed: s_q8[c][r], zeros past
      // the block's rows up to whole k-steps of 32.
      constexpr int kWords = D / 4, kPhases = 32 / kWords;
      const int word = lane % kWords, phase = lane / kWords, c = half * (D / 2) + 2 * word;
      const uint32_t* q_col = q_words + c / 2;  // row r at q_col[r * (D / 2)]
      const int ksteps = (it.rows + 31) / 32;
      if constexpr (std::is_same_v<T, __half>) {
        // fp16: |q| maxima as half2, and q8 = the low byte of fma(q, 2^k, 1536) in fp16 (ulp 1 in [1024, 2048)).
        __half2 max_abs = __float2half2_rn(0.0f);
        for (int r = phase; r < it.rows; r += kPhases)
          max_abs = __hmax2(max_abs, __habs2(*reinterpret_cast<const __half2*>(&q_col[r * (D / 2)])));
#pragma unroll
        for (int x = kWords; x < 32; x <<= 1) {
          const uint32_t other = __shfl_xor_sync(0xffffffffu, *reinterpret_cast<const uint32_t*>(&max_abs), x);
          max_abs = __hmax2(max_abs, *reinterpret_cast<const __half2*>(&other));
        }
        const __half2 scale = __floats2half2_rn(i8_column_scale(__low2float(max_abs)),
                                                i8_column_scale(__high2float(max_abs)));  // 2^k, k in [-10, 15]
        const __half2 magic = __float2half2_rn(1536.0f), zero = __float2half2_rn(0.0f);
        for (int quad = phase; quad < ksteps * 8; quad += kPhases) {
          uint32_t h[4];
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int r = 4 * quad + j;
            const __half2 q2 = r < it.rows ? *reinterpret_cast<const __half2*>(&q_col[r * (D / 2)]) : zero;
            const __half2 v = __hfma2(q2, scale, magic);
            h[j] = *reinterpret_cast<const uint32_t*>(&v);
          }
          const uint32_t rows01 = __byte_perm(h[0], h[1], 0x6240), rows23 = __byte_perm(h[2], h[3], 0x6240);
          *reinterpret_cast<uint32_t*>(&s_q8[c * kQ8Pitch + 4 * quad]) = __byte_perm(rows01, rows23, 0x5410);
          *reinterpret_cast<uint32_t*>(&s_q8[(c + 1) * kQ8Pitch + 4 * quad]) = __byte_perm(rows01, rows23, 0x7632);
        }
      } else {
        float max_abs[2] = {0.0f, 0.0f};
        for (int r = phase; r < it.rows; r += kPhases) {
          const float2 q2 = load_pair<T>(&q_col[r * (D / 2)]);
          max_abs[0] = fmaxf(max_abs[0], fabsf(q2.x));
          max_abs[1] = fmaxf(max_abs[1], fabsf(q2.y));
        }
#pragma unroll
        for (int x = kWords; x < 32; x <<= 1)
#pragma unroll
          for (int e = 0; e < 2; ++e) max_abs[e] = fmaxf(max_abs[e], __shfl_xor_sync(0xffffffffu, max_abs[e], x));
        const float scale[2] = {i8_column_scale(max_abs[0]), i8_column_scale(max_abs[1])};
        for (int quad = phase; quad < ksteps * 8; quad += kPhases) {
          float2 v[4];
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int r = 4 * quad + j;
            v[j] = r < it.rows ? load_pair<T>(&q_col[r * (D / 2)]) : make_float2(0.0f, 0.0f);
          }
          *reinterpret_cast<uint32_t*>(&s_q8[c * kQ8Pitch + 4 * quad]) =
              q8_word(v[0].x, v[1].x, v[2].x, v[3].x, scale[0]);
          *reinterpret_cast<uint32_t*>(&s_q8[(c + 1) * kQ8Pitch + 4 * quad]) =
              q8_word(v[0].y, v[1].y, v[2].y, v[3].y, scale[1]);
        }
      }
      __syncwarp();
      // 3. The dots on the tensor cores, m-tiles of 16 columns, two n-tiles of 8 bits; lane (g, q) = (lane / 4,
      // lane % 4) holds bits 8 t + 2 q + {0, 1} of columns g and g + 8: OR-ed over q by shuffles. Keys (inverse Gray
      // of the code) << 8 | column.
      const int g = lane / 4, q = lane % 4;
#pragma unroll
      for (int mt = 0; mt < D / 32; ++mt) {
        const int col0 = half * (D / 2) + 16 * mt;
        int acc[2][4] = {};
#pragma unroll
        for (int s = 0; s < kKSteps; ++s) {
          if (s == ksteps) break;
          uint32_t a[4];
          const int col = col0 + lane % 8 + 8 * (lane / 8 % 2), byte = 32 * s + 16 * (lane / 16);
          ptx::ldmatrix_x4(a, ptx::smem_addr(&s_q8[col * kQ8Pitch + byte]));
#pragma unroll
          for (int t = 0; t < 2; ++t)
            ptx::mma_16832_s8(acc[t], a, s_b8[((s * 2 + t) * 2) * 32 + lane], s_b8[((s * 2 + t) * 2 + 1) * 32 + lane]);
        }
        uint32_t code[2] = {0, 0};  // columns col0 + g, col0 + g + 8
#pragma unroll
        for (int t = 0; t < 2; ++t)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            code[0] |= uint32_t(acc[t][e] > 0) << (8 * t + 2 * q + e);
            code[1] |= uint32_t(acc[t][2 + e] > 0) << (8 * t + 2 * q + e);
          }
#pragma unroll
        for (int x = 1; x <= 2; x <<= 1)
#pragma unroll
          for (int e = 0; e < 2; ++e) code[e] |= __shfl_xor_sync(0xffffffffu, code[e], x);
        if (q == 0)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const uint32_t column = col0 + g + 8 * e;
            s_keys[column] = inverse_gray_code(code[e]) << 8 | column;
          }
      }
    } else {
      // 2. Dots of columns 64 i + 2 lane + e, bits 8 half .. + 7.
      float acc[kPairs][2][kHalfBits];
#pragma unroll
      for (int i = 0; i < kPairs; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e)
#pragma unroll
          for (int bit = 0; bit < kHalfBits; ++bit) acc[i][e][bit] = 0.0f;
      const float4* r_half = reinterpret_cast<const float4*>(s_r + half * kHalfBits);
#pragma unroll 2
      for (int r = 0; r < it.rows; ++r) {
        float rv[kHalfBits];
#pragma unroll
        for (int k = 0; k < kHalfBits / 4; ++k) *reinterpret_cast<float4*>(&rv[4 * k]) = r_half[r * (kBits / 4) + k];
#pragma unroll
        for (int i = 0; i < kPairs; ++i) {
          const float2 q2 = load_pair<T>(&q_words[r * (D / 2) + 32 * i + lane]);
#pragma unroll
          for (int bit = 0; bit < kHalfBits; ++bit) {
            acc[i][0][bit] = __fmaf_rn(q2.x, rv[bit], acc[i][0][bit]);
            acc[i][1][bit] = __fmaf_rn(q2.y, rv[bit], acc[i][1][bit]);
          }
        }
      }
#pragma unroll
      for (int i = 0; i < kPairs; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          uint32_t byte = 0;
#pragma unroll
          for (int bit = 0; bit < kHalfBits; ++bit)
            if (acc[i][e][bit] > 0.0f) byte |= 1u << bit;  // bits past P stay 0: their R columns are 0
          s_code[half * D + 64 * i + 2 * lane + e] = uint8_t(byte);
        }
      pair_sync();

      // 3. Keys (inverse Gray of the code) << 8 | column, then ranks: a stable argsort (keys < 2^16). Warp `half` takes
      // columns [half D / 2, + D / 2).
#pragma unroll
      for (int e = 0; e < kColsPerLane; ++e) {
        const int c = c0 + e;
        s_keys[c] = inverse_gray_code(uint32_t(s_code[c]) | uint32_t(s_code[D + c]) << 8) << 8 | uint32_t(c);
      }
    }
    pair_sync();
    uint8_t* gperm = perm + item * D;
#pragma unroll
    for (int e = 0; e < kColsPerLane; ++e) {
      const int c = c0 + e;
      const uint32_t mine = s_keys[c];
      int rank = 0;
#pragma unroll 4
      for (int j = 0; j < D; j += 4) {
        const uint4 k4 = *reinterpret_cast<const uint4*>(&s_keys[j]);
        // Keys are below 2^24: k - mine wraps to its top bit exactly when k < mine.
        rank += int((k4.x - mine) >> 31) + int((k4.y - mine) >> 31) + int((k4.z - mine) >> 31) +
                int((k4.w - mine) >> 31);
      }
      s_order[rank] = uint8_t(c);
      s_rank[c] = uint8_t(rank);
      gperm[rank] = uint8_t(c);
    }
    pair_sync();

    // 4. Q' rows half, half + 2, ...
    T* out = q_out + (int64_t(it.bh) * p.tokens + it.start) * D;
    // Lane t computes groups t + 32 s once per row, then each lane fetches its columns' values by shuffles.
    constexpr int kGroups = D / G, kSlots = (kGroups + 31) / 32;
    int group_member[kSlots][G];  // element offsets, in group order (lanes past kGroups: column 0, unused)
#pragma unroll
    for (int s = 0; s < kSlots; ++s)
#pragma unroll
      for (int g = 0; g < G; ++g)
        group_member[s][g] = lane + 32 * s < kGroups ? s_order[(lane + 32 * s) * G + g] : 0;
    int source[kPairs][2];  // group of each owned column
#pragma unroll
    for (int i = 0; i < kPairs; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) source[i][e] = s_rank[64 * i + 2 * lane + e] / G;
    for (int r = half; r < it.rows; r += 2) {
      const T* q_row = s_q + r * D;
      float group_value[kSlots];
#pragma unroll
      for (int s = 0; s < kSlots; ++s) {
        float sum = to_float(q_row[group_member[s][0]]);
        if (!sample) {
#pragma unroll
          for (int g = 1; g < G; ++g) sum = __fadd_rn(sum, to_float(q_row[group_member[s][g]]));
          sum = __fmaf_rn(sum, 1.0f / G, 0.0f);  // = sum / G, and -0 -> +0 as in fuse_rows
        }
        group_value[s] = sum;
      }
#pragma unroll
      for (int i = 0; i < kPairs; ++i) {
        float v[2];
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          v[e] = __shfl_sync(0xffffffffu, group_value[0], source[i][e] % 32);
#pragma unroll
          for (int s = 1; s < kSlots; ++s) {
            const float other = __shfl_sync(0xffffffffu, group_value[s], source[i][e] % 32);
            if (source[i][e] / 32 == s) v[e] = other;
          }
        }
        *reinterpret_cast<uint32_t*>(out + int64_t(r) * D + 64 * i + 2 * lane) = ptx::pack2<T>(v[0], v[1]);
      }
    }
    pair_sync();  // s_rows[buffer] and the order are read: the next round fetches into it, and sorts
    if (layout.buffers == 1) fetch(item_of_round(round + 1), 0);
  }
  ptx::cp_async_wait<0>();
}

// One call's arguments, for the dispatch on dtype, head_dim and G.
struct ShortCall {
  const AttentionDeviceParams& p;
  const DistrParams& distr;
  int block_len, nblocks;
  const float* projection;
  uint8_t* perm;
  void* q_out;
  int max_grid;
  cudaStream_t stream;
};

template <typename T, int D, int G, bool kInt8>
void launch_expand_short(const ShortCall& c) {
  constexpr auto kernel = distr_expand_short_kernel<T, D, G, kInt8>;
  const int rows_cap = (c.block_len + 15) / 16 * 16;
  const int smem = ExpandSmem(rows_cap, D, kInt8).bytes();
  static const auto resident = [] {  // thread blocks that fit on the GPU at once, by rows_cap / 16 - 1
    allow_dynamic_smem<kernel>(ExpandSmem(kMaxRows, D, kInt8).bytes());
    int device = 0, sms = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    std::array<int64_t, kMaxRows / 16> blocks{};
    for (size_t i = 0; i < blocks.size(); ++i) {
      int per_sm = 0;
      const int bytes = ExpandSmem(16 * int(i + 1), D, kInt8).bytes();
      CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, bytes));
      blocks[i] = std::max(1, sms * per_sm);
    }
    return blocks;
  }();
  // As many rounds as one wave of pairs needs, then the fewest thread blocks that still finish in that many.
  const int64_t items = int64_t(c.p.batch) * c.p.heads * c.nblocks;
  int64_t cap = resident[rows_cap / 16 - 1];
  if (c.max_grid > 0) cap = std::min<int64_t>(cap, c.max_grid);
  const int64_t rounds = (items + cap * kItems - 1) / (cap * kItems);
  const int64_t grid = (items + rounds * kItems - 1) / (rounds * kItems);
  launch_dependent(kernel, dim3(unsigned(grid)), kThreads, smem, c.stream, c.p, c.projection,
                   c.block_len, rows_cap, c.nblocks, c.distr.hash_bits, c.distr.variant == DistrVariant::Sample,
                   c.perm, static_cast<T*>(c.q_out));
}

template <typename T, int D, int G>
void expand_short_g(const ShortCall& c) {
  if (c.distr.hash == DistrHash::Int8) launch_expand_short<T, D, G, true>(c);
  else launch_expand_short<T, D, G, false>(c);
}

template <typename T, int D>
bool expand_short_d(const ShortCall& c) {
  switch (c.distr.group) {
    case 2: expand_short_g<T, D, 2>(c); return true;
    case 4: expand_short_g<T, D, 4>(c); return true;
    case 8: expand_short_g<T, D, 8>(c); return true;
  }
  return false;
}

template <typename T>
bool expand_short_t(const ShortCall& c) {
  if (c.p.head_dim == 64) return expand_short_d<T, 64>(c);
  if (c.p.head_dim == 128) return expand_short_d<T, 128>(c);
  return false;
}

}  // namespace

bool expand_short_blocks(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection,
                         uint8_t* perm, void* q_expanded, int max_grid, cudaStream_t stream) {
  const int block_len = effective_block(p, distr);
  if (block_len > kMaxRows || distr.hash_bits > kBits || !aligned_to(projection, 16) || !aligned_to(q_expanded, 16) ||
      !attention_rows_16b_aligned(p))
    return false;
  const ShortCall call{p,    distr,      block_len, num_blocks(p.tokens, distr.block), projection,
                       perm, q_expanded, max_grid,  stream};
  switch (p.dtype) {
    case DataType::F16: return expand_short_t<__half>(call);
    case DataType::BF16: return expand_short_t<__nv_bfloat16>(call);
    case DataType::F32: return false;
  }
  return false;
}

}  // namespace distrvit::cuda::distr
