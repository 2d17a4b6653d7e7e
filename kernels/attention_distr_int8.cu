// distr.h's Int8 SimHash codes of every l-block, for any l, P, head_dim and dtype (the general grouping kernel then
// sorts from them, GroupShape::codes_in). Each thread block takes one 256-row chunk of one l-block; thread t owns
// column t % D and a slice of the bits:
//   1. distr_int8_max_kernel: the chunk's max |Q[r, c]| -> atomicMax on the float's bits (non-negative floats order
//      as their bits) into max_bits [B*H][nblocks][D], zeroed first;
//   2. distr_int8_dots_kernel: r8 = clamp(rint(32 R)) of the chunk's rows to shared memory, q8 = rint(Q 2^k_c), the
//      chunk's integer dots -> atomicAdd into dots [B*H][nblocks][D][P], zeroed first (integer sums: the order does
//      not matter);
//   3. distr_int8_codes_kernel: bit p = dots[p] > 0.
// The short-block prologue (attention_distr_expand.cu) computes the same codes with int8 tensor-core products.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "attention_common.cuh"
#include "attention_distr.cuh"
#include "cuda_check.h"
#include "distrvit/distr.h"
#include "dtype_util.cuh"

namespace distrvit::cuda::distr {
namespace {

constexpr int kThreads = 256;

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

__global__ void __launch_bounds__(kThreads)
    distr_int8_codes_kernel(const int* __restrict__ dots, uint32_t* __restrict__ codes, const int P,
                            const int64_t columns) {
  const int64_t column = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (column >= columns) return;
  uint32_t code = 0;
  for (int bit = 0; bit < P; ++bit)
    if (dots[column * P + bit] > 0) code |= 1u << bit;
  codes[column] = code;
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
  CUDA_CHECK(cudaMemsetAsync(max_bits, 0, size_t(columns) * 4, stream));
  CUDA_CHECK(cudaMemsetAsync(dots, 0, size_t(columns) * P * 4, stream));
  const int slices = kThreads / D, bits_per_slice = (P + slices - 1) / slices;
  for_each_head_chunk(bh_total, [&](int bh0, int heads) {
    s.bh_offset = bh0;
    const dim3 grid(s.nblocks * s.chunks, heads);
    distr_int8_max_kernel<T><<<grid, kThreads, 0, stream>>>(p, s, max_bits);
    CUDA_CHECK_LAUNCH();
  });
  for_each_head_chunk(bh_total, [&](int bh0, int heads) {
    s.bh_offset = bh0;
    const dim3 grid(s.nblocks * s.chunks, heads);
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
  if (effective_block(p, distr) >= kMaxInt8BlockRows)
    fail("attention_distr", "hash=i8 needs l < {} rows (int32 dots), got {}", kMaxInt8BlockRows,
         effective_block(p, distr));
  switch (p.dtype) {
    case DataType::F16: return launch_int8_codes<__half>(p, distr, projection, codes, scratch, stream);
    case DataType::BF16: return launch_int8_codes<__nv_bfloat16>(p, distr, projection, codes, scratch, stream);
    case DataType::F32: return launch_int8_codes<float>(p, distr, projection, codes, scratch, stream);
  }
}

}  // namespace distrvit::cuda::distr
