// distr.h's Int8 SimHash codes of every l-block, for any l, P, head_dim and dtype (the general grouping kernel then
// sorts from them, GroupShape::codes_in). Each thread block takes one 256-row chunk of one l-block; thread t owns
// column t % D and a slice of the bits:
//   1. distr_int8_max_kernel: the chunk's max |Q[r, c]| -> atomicMax on the float's bits (non-negative floats order
//      as their bits) into max_bits [B*H][nblocks][D], zeroed first;
//   2. the chunk's integer dots q8 . r8 (q8 = rint(Q 2^k_c), r8 = clamp(rint(32 R))) -> atomicAdd into
//      dots [B*H][nblocks][D][P], zeroed first (integer sums: the order does not matter):
//      distr_int8_dots_mma_kernel for fp16/bf16 at head_dim 64 / 128 (the chunk's q8 transposed in shared memory,
//      mma.m16n8k32.s8), distr_int8_dots_kernel (scalar, r8 in shared memory) elsewhere;
//      blocks of at most 256 rows (one chunk) on the mma kernel skip 1 and 3: it takes the maxima and writes the
//      codes itself, from shared memory;
//   3. distr_int8_codes_kernel: bit p = dots[p] > 0.
// The short-block prologue (attention_distr_expand.cu) computes the same codes with int8 tensor-core products.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "attention_common.cuh"
#include "attention_distr.cuh"
#include "attention_distr_int8.cuh"
#include "cuda_check.h"
#include "distrvit/distr.h"
#include "dtype_util.cuh"

namespace distrvit::cuda::distr {
namespace {

constexpr int kThreads = 256;

// The code of one column from its P integer dots (bit p = dots[p] > 0).
__device__ __forceinline__ uint32_t code_of(const int* dots, int P) {
  uint32_t code = 0;
  for (int bit = 0; bit < P; ++bit)
    if (dots[bit] > 0) code |= 1u << bit;
  return code;
}

struct Int8Shape {
  int block_len, nblocks, chunks, hash_bits, bh_offset;
};

// Rows [chunk * 256, + rows) of l-block blockIdx.x / chunks of (b, h) = bh_offset + blockIdx.y, at stride ts.
template <typename T>
__device__ const T* chunk_rows(const AttentionDeviceParams& p, const Int8Shape& s, int& bh, int& blk, int& r0,
                               int& rows) {
  blk = blockIdx.x / s.chunks;
  const int chunk = blockIdx.x - blk * s.chunks;
  bh = s.bh_offset + blockIdx.y;
  const int b = bh / p.heads, h = bh - b * p.heads;
  const int block_rows = min(s.block_len, p.tokens - blk * s.block_len);
  r0 = chunk * kHashChunkRows;
  rows = min(kHashChunkRows, block_rows - r0);
  return static_cast<const T*>(p.q) + int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride +
         int64_t(blk * s.block_len + r0) * p.qkv_token_stride;
}

// Thread t: column t % D, rows t / D, + 256 / D, ... (threads past (256 / D) * D idle).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    distr_int8_max_kernel(const AttentionDeviceParams p, const Int8Shape s, uint32_t* __restrict__ max_bits) {
  int bh, blk, r0, rows;
  const T* q = chunk_rows<T>(p, s, bh, blk, r0, rows);
  const int D = p.head_dim, slices = kThreads / D, col = threadIdx.x % D, slice = threadIdx.x / D;
  if (rows <= 0 || slice >= slices) return;
  float max_abs = 0.0f;
  for (int r = slice; r < rows; r += slices)
    max_abs = fmaxf(max_abs, fabsf(to_float(q[int64_t(r) * p.qkv_token_stride + col])));
  atomicMax(&max_bits[(int64_t(bh) * s.nblocks + blk) * D + col], __float_as_uint(max_abs));
}

// Thread t: column t % D, bits [slice * bits_per_slice, + bits_per_slice) of slice t / D.
template <typename T, int kBits>
__global__ void __launch_bounds__(kThreads)
    distr_int8_dots_kernel(const AttentionDeviceParams p, const Int8Shape s, const float* __restrict__ projection,
                           const uint32_t* __restrict__ max_bits, int* __restrict__ dots, const int bits_per_slice) {
  extern __shared__ int s_r8[];  // [rows][P]
  int bh, blk, r0, rows;
  const T* q = chunk_rows<T>(p, s, bh, blk, r0, rows);
  const int D = p.head_dim, P = s.hash_bits, col = threadIdx.x % D, bit0 = threadIdx.x / D * bits_per_slice;
  if (rows <= 0) return;
  for (int i = threadIdx.x; i < rows * P; i += kThreads) s_r8[i] = i8_projection(projection[int64_t(r0) * P + i]);
  __syncthreads();
  const int nbits = min(bits_per_slice, P - bit0);
  if (threadIdx.x >= kThreads / D * D || nbits <= 0) return;
  const int64_t column = (int64_t(bh) * s.nblocks + blk) * D + col;
  const float scale = i8_column_scale(__uint_as_float(max_bits[column]));
  int acc[kBits] = {};
  for (int r = 0; r < rows; ++r) {
    const int q8 = i8_quantize(to_float(q[int64_t(r) * p.qkv_token_stride + col]), scale);
    const int* r_row = s_r8 + r * P + bit0;
#pragma unroll
    for (int e = 0; e < kBits; ++e)
      if (e < nbits) acc[e] += q8 * r_row[e];
  }
#pragma unroll
  for (int e = 0; e < kBits; ++e)
    if (e < nbits) atomicAdd(&dots[column * P + bit0 + e], acc[e]);
}

constexpr int kChunkPitch = kHashChunkRows + 16;  // bytes per column of the transposed int8 chunk (conflict-free)
constexpr int kMaxNTiles = kMaxHashBits / 8;
constexpr int kChunkKSteps = kHashChunkRows / 32;
// Dynamic shared memory of distr_int8_dots_mma_kernel: q8 [D][kChunkPitch], B fragments
// [k-step][n-tile][k half][lane] uint32, then for one-chunk blocks the column maxima [D] (float bits) and the dots
// [D][P] int32.
constexpr int dots_mma_smem(int D) {
  return D * kChunkPitch + kChunkKSteps * kMaxNTiles * 2 * 32 * 4 + D * 4 + D * kMaxHashBits * 4;
}

// Q rows read as 4-byte column pairs (needs them 4-byte aligned). Thread t converts word t % (D / 2) of row quads
// t / (D / 2), + 256 / (D / 2), ...; warp w multiplies m-tile (16 columns) w % (D / 16) over k-steps
// w / (D / 16), + 8 / (D / 16), ... by every n-tile (8 bits).
template <typename T, int D>
__global__ void __launch_bounds__(kThreads)
    distr_int8_dots_mma_kernel(const AttentionDeviceParams p, const Int8Shape s, const float* __restrict__ projection,
                               const uint32_t* __restrict__ max_bits, int* __restrict__ dots,
                               uint32_t* __restrict__ codes) {
  extern __shared__ __align__(16) unsigned char smem[];
  uint8_t* s_q8 = smem;                                                  // [D][kChunkPitch]
  uint32_t* s_b8 = reinterpret_cast<uint32_t*>(smem + D * kChunkPitch);  // [kChunkKSteps][kMaxNTiles][2][32]
  uint32_t* s_max = s_b8 + kChunkKSteps * kMaxNTiles * 2 * 32;           // one chunk: [D]
  int* s_dots = reinterpret_cast<int*>(s_max + D);                       // one chunk: [D][P]
  int bh, blk, r0, rows;
  const T* q = chunk_rows<T>(p, s, bh, blk, r0, rows);
  if (rows <= 0) return;
  const int P = s.hash_bits, ntiles = (P + 7) / 8, ksteps = (rows + 31) / 32;
  const bool one_chunk = s.chunks == 1;
  for (int i = threadIdx.x; i < ksteps * kMaxNTiles * 64; i += kThreads) {
    const int t = i / 64 % kMaxNTiles;
    if (t < ntiles)
      s_b8[i] = r8_fragment_word(projection + int64_t(r0) * P, rows, P, i / (64 * kMaxNTiles), t, i / 32 % 2, i % 32);
  }
  const int64_t column0 = (int64_t(bh) * s.nblocks + blk) * D;
  const int word = threadIdx.x % (D / 2), c = 2 * word, quad0 = threadIdx.x / (D / 2), quad_step = kThreads / (D / 2);
  auto row_pair = [&](int r) {
    return load_pair<T>(reinterpret_cast<const uint32_t*>(q + int64_t(r) * p.qkv_token_stride) + word);
  };
  if (one_chunk) {  // the block's column maxima here, not from distr_int8_max_kernel
    for (int i = threadIdx.x; i < D * (1 + P); i += kThreads) s_max[i] = 0;  // s_max, then s_dots
    __syncthreads();
    float max_abs[2] = {0.0f, 0.0f};
    for (int r = quad0; r < rows; r += quad_step) {
      const float2 v = row_pair(r);
      max_abs[0] = fmaxf(max_abs[0], fabsf(v.x));
      max_abs[1] = fmaxf(max_abs[1], fabsf(v.y));
    }
    atomicMax(&s_max[c], __float_as_uint(max_abs[0]));
    atomicMax(&s_max[c + 1], __float_as_uint(max_abs[1]));
  }
  __syncthreads();  // B fragments, maxima
  const uint32_t* column_max = one_chunk ? s_max : max_bits + column0;
  const float scale0 = i8_column_scale(__uint_as_float(column_max[c]));
  const float scale1 = i8_column_scale(__uint_as_float(column_max[c + 1]));
  for (int quad = quad0; quad < ksteps * 8; quad += quad_step) {
    float2 v[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) v[j] = 4 * quad + j < rows ? row_pair(4 * quad + j) : make_float2(0.0f, 0.0f);
    *reinterpret_cast<uint32_t*>(&s_q8[c * kChunkPitch + 4 * quad]) = q8_word(v[0].x, v[1].x, v[2].x, v[3].x, scale0);
    *reinterpret_cast<uint32_t*>(&s_q8[(c + 1) * kChunkPitch + 4 * quad]) =
        q8_word(v[0].y, v[1].y, v[2].y, v[3].y, scale1);
  }
  __syncthreads();
  constexpr int kMTiles = D / 16, kKGroups = kThreads / 32 / kMTiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, mt = warp % kMTiles;
  int acc[kMaxNTiles][4] = {};
  for (int ks = warp / kMTiles; ks < ksteps; ks += kKGroups) {
    uint32_t a[4];
    const int col = 16 * mt + lane % 8 + 8 * (lane / 8 % 2), byte = 32 * ks + 16 * (lane / 16);
    ptx::ldmatrix_x4(a, ptx::smem_addr(&s_q8[col * kChunkPitch + byte]));
#pragma unroll
    for (int t = 0; t < kMaxNTiles; ++t)
      if (t < ntiles) {
        const uint32_t* b = &s_b8[((ks * kMaxNTiles + t) * 2) * 32 + lane];
        ptx::mma_16832_s8(acc[t], a, b[0], b[32]);
      }
  }
  // Lane (g, q) = (lane / 4, lane % 4) holds columns 16 mt + g (+ 8), bits 8 t + 2 q + {0, 1}.
  const int g = lane / 4, q2 = 2 * (lane % 4);
  int* out = one_chunk ? s_dots : dots + column0 * P;  // [D][P]
#pragma unroll
  for (int t = 0; t < kMaxNTiles; ++t)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int bit = 8 * t + q2 + e;
      if (t >= ntiles || bit >= P) continue;
      atomicAdd(&out[(16 * mt + g) * P + bit], acc[t][e]);
      atomicAdd(&out[(16 * mt + g + 8) * P + bit], acc[t][2 + e]);
    }
  if (!one_chunk) return;
  __syncthreads();
  for (int col = threadIdx.x; col < D; col += kThreads) codes[column0 + col] = code_of(s_dots + col * P, P);
}

__global__ void __launch_bounds__(kThreads)
    distr_int8_codes_kernel(const int* __restrict__ dots, uint32_t* __restrict__ codes, const int P,
                            const int64_t columns) {
  const int64_t column = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (column < columns) codes[column] = code_of(dots + column * P, P);
}

template <typename T>
void launch_int8_codes(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection,
                       uint32_t* codes, void* scratch, cudaStream_t stream) {
  const int D = p.head_dim, P = distr.hash_bits, bh_total = p.batch * p.heads;
  Int8Shape s;
  s.block_len = effective_block(p, distr);
  s.nblocks = num_blocks(p.tokens, distr.block);
  s.chunks = (s.block_len + kHashChunkRows - 1) / kHashChunkRows;
  s.hash_bits = P;
  const int64_t columns = int64_t(bh_total) * s.nblocks * D;
  uint32_t* max_bits = static_cast<uint32_t*>(scratch);                                    // [columns]
  int* dots = reinterpret_cast<int*>(static_cast<char*>(scratch) + align_up(columns * 4, 256));  // [columns][P]
  const bool pairs_aligned = aligned_to(p.q, 4) && p.qkv_batch_stride % 2 == 0 && p.qkv_head_stride % 2 == 0 &&
                             p.qkv_token_stride % 2 == 0;
  const bool mma = !std::is_same_v<T, float> && (D == 64 || D == 128) && pairs_aligned;
  const bool one_pass = mma && s.chunks == 1;  // maxima and codes inside distr_int8_dots_mma_kernel
  if (!one_pass) {
    CUDA_CHECK(cudaMemsetAsync(max_bits, 0, size_t(columns) * 4, stream));
    CUDA_CHECK(cudaMemsetAsync(dots, 0, size_t(columns) * P * 4, stream));
    for_each_head_chunk(bh_total, [&](int bh0, int heads) {
      s.bh_offset = bh0;
      distr_int8_max_kernel<T><<<dim3(s.nblocks * s.chunks, heads), kThreads, 0, stream>>>(p, s, max_bits);
      CUDA_CHECK_LAUNCH();
    });
  }
  const int slices = kThreads / D, bits_per_slice = (P + slices - 1) / slices;
  for_each_head_chunk(bh_total, [&](int bh0, int heads) {
    s.bh_offset = bh0;
    const dim3 grid(s.nblocks * s.chunks, heads);
    if (mma) {
      const auto launch_mma = [&](auto head_dim) {
        constexpr int kD = decltype(head_dim)::value;
        constexpr auto kernel = distr_int8_dots_mma_kernel<T, kD>;
        allow_dynamic_smem<kernel>(dots_mma_smem(kD));
        kernel<<<grid, kThreads, dots_mma_smem(kD), stream>>>(p, s, projection, max_bits, dots, codes);
        CUDA_CHECK_LAUNCH();
      };
      if (D == 64) launch_mma(std::integral_constant<int, 64>());
      else launch_mma(std::integral_constant<int, 128>());
      return;
    }
    const auto launch = [&](auto bits) {
      distr_int8_dots_kernel<T, decltype(bits)::value><<<grid, kThreads, kHashChunkRows * P * sizeof(int), stream>>>(
          p, s, projection, max_bits, dots, bits_per_slice);
      CUDA_CHECK_LAUNCH();
    };
    if (bits_per_slice <= 4) launch(std::integral_constant<int, 4>());
    else if (bits_per_slice <= 8) launch(std::integral_constant<int, 8>());
    else if (bits_per_slice <= 16) launch(std::integral_constant<int, 16>());
    else launch(std::integral_constant<int, 32>());
  });
  if (one_pass) return;
  distr_int8_codes_kernel<<<unsigned((columns + kThreads - 1) / kThreads), kThreads, 0, stream>>>(dots, codes, P,
                                                                                                  columns);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

size_t int8_codes_scratch_bytes(const AttentionDeviceParams& p, const DistrParams& distr) {
  const size_t columns = size_t(p.batch) * p.heads * num_blocks(p.tokens, distr.block) * p.head_dim;
  return align_up(columns * 4, 256) + columns * distr.hash_bits * 4;
}

void int8_codes(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, uint32_t* codes,
                void* scratch, cudaStream_t stream) {
  switch (p.dtype) {
    case DataType::F16: return launch_int8_codes<__half>(p, distr, projection, codes, scratch, stream);
    case DataType::BF16: return launch_int8_codes<__nv_bfloat16>(p, distr, projection, codes, scratch, stream);
    case DataType::F32: return launch_int8_codes<float>(p, distr, projection, codes, scratch, stream);
  }
}

}  // namespace distrvit::cuda::distr
