// DistrAttention's K~ for every l-block at once, written to global memory, for the prefused path of attention_distr
// (attention_distr.cu, distr::Path::kPrefused): the TMA exact kernel then reads Q~ and K~ as contiguous q and k
// (attention_hopper_tma.cuh, FusedQK). Only where the K~ of all blocks is small (short sequences or few blocks).
//
// K~ [B*H][nblocks][N][64] of T: K~[bh][blk][n][j] = sum over g < G of K[b][n][h][perm[bh][blk][j G + g]], summed in
// fp32 in group order and rounded once (as the in-kernel builds of attention_distr.cu round), j < E = D / G; zeros
// for E <= j < 64. One warp per key row: the row goes to shared memory once, then lane t writes columns 2t, 2t + 1
// of every block's K~ row (128-byte coalesced stores).
#include <algorithm>

#include "attention_common.cuh"
#include "attention_distr.cuh"
#include "cuda_check.h"
#include "distrvit/error.h"
#include "dtype_util.cuh"

namespace distrvit::cuda::distr {
namespace {

constexpr int kWarps = 8;
constexpr int kRowsPerWarp = 4;

template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    fuse_k_kernel(const AttentionDeviceParams p, const uint8_t* __restrict__ perm, const int nblocks, const int group,
                  T* __restrict__ k_fused, const int bh_offset) {
  extern __shared__ unsigned char smem[];
  uint8_t* sperm = smem;                                                     // [nblocks][D]
  float* srow = reinterpret_cast<float*>(smem + (nblocks * p.head_dim + 15) / 16 * 16);  // [kWarps][D]
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int bh = bh_offset + blockIdx.y, b = bh / p.heads, h = bh % p.heads;
  const int D = p.head_dim, N = p.tokens, E = D / group;
  const uint8_t* gperm = perm + int64_t(bh) * nblocks * D;
  for (int i = threadIdx.x; i < nblocks * D; i += blockDim.x) sperm[i] = gperm[i];
  __syncthreads();
  const T* k = static_cast<const T*>(p.k) + int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride;
  float* row = srow + warp * D;
  const int j0 = 2 * lane;  // this lane's K~ columns j0, j0 + 1
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int n = (blockIdx.x * kWarps + warp) * kRowsPerWarp + r;
    if (n >= N) break;
    const T* kn = k + int64_t(n) * p.qkv_token_stride;
    for (int c = lane; c < D; c += 32) row[c] = to_float(kn[c]);
    __syncwarp();
    for (int blk = 0; blk < nblocks; ++blk) {
      const uint8_t* pm = sperm + blk * D;
      float s0 = 0.0f, s1 = 0.0f;
      if (j0 < E)
        for (int g = 0; g < group; ++g) s0 += row[pm[j0 * group + g]];
      if (j0 + 1 < E)
        for (int g = 0; g < group; ++g) s1 += row[pm[(j0 + 1) * group + g]];
      T* out = k_fused + ((int64_t(bh) * nblocks + blk) * N + n) * kFusedPitch;
      *reinterpret_cast<uint32_t*>(out + j0) = ptx::pack2<T>(s0, s1);
    }
    __syncwarp();  // the row buffer is rewritten next
  }
}

template <typename T>
void launch(const AttentionDeviceParams& p, const DistrParams& distr, const uint8_t* perm, T* k_fused,
            cudaStream_t stream) {
  const int nblocks = num_blocks(p.tokens, distr.block);
  const size_t smem = size_t(nblocks * p.head_dim + 15) / 16 * 16 + size_t(kWarps) * p.head_dim * sizeof(float);
  if (smem > 48 * 1024)
    CUDA_CHECK(cudaFuncSetAttribute(fuse_k_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  const int rows_per_block = kWarps * kRowsPerWarp;
  for_each_head_chunk(p.batch * p.heads, [&](int bh0, int heads) {
    const dim3 grid((p.tokens + rows_per_block - 1) / rows_per_block, heads);
    fuse_k_kernel<T><<<grid, kWarps * 32, smem, stream>>>(p, perm, nblocks, distr.group, k_fused, bh0);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

size_t fused_k_bytes(const AttentionDeviceParams& p, const DistrParams& distr) {
  return size_t(p.batch) * p.heads * num_blocks(p.tokens, distr.block) * p.tokens * kFusedPitch * 2;
}

void fuse_k_blocks(const AttentionDeviceParams& p, const DistrParams& distr, const uint8_t* perm, void* k_fused,
                   cudaStream_t stream) {
  if (p.head_dim % distr.group != 0 || p.head_dim / distr.group > kFusedPitch || p.head_dim > 256)
    fail("attention_distr", "prefused K~ needs head_dim / G <= {} (head_dim {}, G {})", kFusedPitch, p.head_dim,
         distr.group);
  if (int64_t(p.batch) * p.heads * p.tokens == 0) return;
  switch (p.dtype) {
    case DataType::F16: return launch<__half>(p, distr, perm, static_cast<__half*>(k_fused), stream);
    case DataType::BF16: return launch<__nv_bfloat16>(p, distr, perm, static_cast<__nv_bfloat16*>(k_fused), stream);
    case DataType::F32: fail("attention_distr", "prefused K~ needs fp16 or bf16");
  }
}

}  // namespace distrvit::cuda::distr
