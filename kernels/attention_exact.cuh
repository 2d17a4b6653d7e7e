// Fused exact attention (FlashAttention-2 style) for fp16 / bf16 on tensor cores (mma.sync m16n8k16).
// Included only by the per-instantiation files attention_exact_<dtype>_d<head_dim>.cu.
//
// Kernel versions (H200, fp16; ms at 2x16x8192x64 | 1x16x16384x128; same card, same day: PyTorch
// FlashAttention-2 1.81 | 6.37, cuDNN 9.19 1.13 | 3.70; all numbers in BENCHMARKS.md "## Attention kernels"):
//   v1  one thread block per (kBlockM query rows, b, h); each warp owns 16 * kMTiles query rows.
//       Q tile -> smem once (cp.async) -> registers (ldmatrix); K/V tiles of kBlockN keys stream through
//       a 2-stage cp.async ring (tile j+1 lands while tile j is used). S = Q K^T and O += P V on
//       mma.sync m16n8k16 with fp32 accumulators; online softmax in registers with exp2 and the scale
//       folded into one FFMA; P goes from the S accumulators straight into A fragments (no smem);
//       rows padded by 16 bytes so ldmatrix is bank-conflict free; only the last key tile is masked;
//       out-of-range rows are zero-filled by cp.async (src-size 0) so they can never inject NaN.
//       Epilogue: O / l staged through the warp's own Q rows in smem -> 16-byte coalesced stores.
//       1.67-1.75 | 6.95 ms: 8-18 % faster than FA2 on the five d = 64 doc shapes, 9 % slower at d = 128.
//   Tile variants (template parameters, all tested; Variants<> below):
//     d=64  V0 4 warps x 32 rows, 64 keys, Q in registers: 242 regs, 55 KB smem, 2 blocks/SM. Default.
//           V1 4 warps x 16 rows: ~10 % slower per flop but fills the last wave when few heads have long
//              rows (1x12x4097: 0.201 vs 0.219 ms), so the automatic choice takes it there.
//           V2 8 warps x 32 rows (256-row blocks): 1.84 ms. V3 128-key tiles, Q re-read from smem: spills, 2.03.
//     d=80  (ViT-H/14) V0 like d=64's: 176 regs; V1 16 rows per warp where waves are short. 0.87-0.95x cuDNN.
//     d=128 V0 4 warps x 32 rows, 32 keys, Q re-read from smem: 255 regs, no spills. Default, 6.95 ms.
//           V1 16 rows per warp: 8.67. V2 FA2's 128 x 64 tile: spills ~170 B, 7.63. V3 8 warps x 16 rows: 7.76.
//   Where the rest is: with mma.sync every warp re-reads K/V fragments from smem (~128-190 B per HMMA,
//   at the smem limit) and the exp2s (MUFU) nearly match the tensor time at d = 64. cuDNN's 1.5-1.9x
//   comes from wgmma (operands straight from smem, 64-row warpgroups), TMA and softmax/MMA overlap
//   across warpgroups. On Hopper builds the wgmma kernels (attention_hopper_variants.cuh) run instead; this kernel
//   serves other GPUs, DISTRVIT_NO_WGMMA=1 and the key splits.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "attention_common.cuh"
#include "attention_split.cuh"
#include "cuda_check.h"

namespace distrvit::cuda::flash {

// kQKDim_: the q/k columns the scores use (= kHeadDim, or fewer for low-rank heads whose q/k were projected
// onto their first kQKDim columns); V and the output always have kHeadDim.
template <int kHeadDim_, int kWarps_, int kMTiles_, int kBlockN_, bool kQInRegs_, int kQKDim_ = kHeadDim_>
struct Config {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kQKDim = kQKDim_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kMTiles = kMTiles_;                // m16 tiles per warp
  static constexpr int kBlockM = kWarps * 16 * kMTiles;   // query rows per block
  static constexpr int kBlockN = kBlockN_;                // keys per K/V tile
  static constexpr bool kQInRegs = kQInRegs_;
  static constexpr int kPitch = kHeadDim + 8;             // smem row pitch in elements (+16 bytes)
  static constexpr int kSmemQ = kBlockM * kPitch;         // elements
  static constexpr int kSmemKV = kBlockN * kPitch;        // elements, one K or V stage
  static constexpr size_t kSmemBytes = size_t(kSmemQ + 4 * kSmemKV) * 2;  // Q + 2 stages of K and V
  static constexpr int kMinBlocks = kThreads >= 256 ? 1 : 2;  // per SM: 255 registers a thread either way
  static_assert(kHeadDim % 16 == 0 && kQKDim % 16 == 0 && kQKDim <= kHeadDim && kBlockN % 16 == 0,
                "tiles are multiples of 16");
};

// Copies columns [0, kCols) of rows [row0, row0 + kRows) of one head (row r at g + r * row_stride) into smem
// rows of pitch kPitch; rows at or past `rows_valid` become zeros.
template <typename Cfg, int kRows, int kCols, typename T>
__device__ __forceinline__ void load_rows_async(T* smem, const T* g, int64_t row_stride, int row0, int rows_valid,
                                                int tid) {
  constexpr int kChunks = kCols / 8;  // 16-byte chunks per row
  constexpr int kTotal = kRows * kChunks;
  constexpr int kIters = (kTotal + Cfg::kThreads - 1) / Cfg::kThreads;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int i = tid + it * Cfg::kThreads;
    if (kTotal % Cfg::kThreads != 0 && i >= kTotal) break;
    const int r = i / kChunks, c = i % kChunks;
    const int gr = row0 + r;
    const bool valid = gr < rows_valid;
    const T* src = g + (valid ? int64_t(gr) * row_stride + c * 8 : 0);
    ptx::cp_async_16(ptx::smem_addr(smem + r * Cfg::kPitch + c * 8), src, valid);
  }
}

// With split.splits > 1, block z of a (row block, b, h) takes key tiles [z * tiles / splits, (z + 1) * tiles / splits)
// and writes its own normalized O and (max, sum) to the split workspace; combine_splits_kernel merges them.
template <typename T, typename Cfg>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    flash_fwd_kernel(const AttentionDeviceParams p, const int bh_offset, const float scale_log2, const SplitKv split) {
  constexpr int D = Cfg::kHeadDim, DQK = Cfg::kQKDim, BM = Cfg::kBlockM, BN = Cfg::kBlockN, P = Cfg::kPitch;
  constexpr int MT = Cfg::kMTiles;
  constexpr int kDTiles = D / 8;    // n8 tiles of the output
  constexpr int kNTiles = BN / 8;   // n8 tiles of S
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);  // [BM][P]
  T* sK = sQ + Cfg::kSmemQ;                // [2][BN][P]
  T* sV = sK + 2 * Cfg::kSmemKV;           // [2][BN][P]

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int bh = bh_offset + blockIdx.y;
  const int b = bh / p.heads, h = bh % p.heads;
  const int N = p.tokens;
  const int q_row0 = blockIdx.x * BM;
  const int n_blocks = (N + BN - 1) / BN;
  const int tile_begin = int(int64_t(blockIdx.z) * n_blocks / split.splits);
  const int tile_end = int(int64_t(blockIdx.z + 1) * n_blocks / split.splits);
  const int64_t ts = p.qkv_token_stride;
  const int64_t head_off = int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride;
  const T* gq = static_cast<const T*>(p.q) + head_off;  // [N][D] rows at stride ts
  const T* gk = static_cast<const T*>(p.k) + head_off;
  const T* gv = static_cast<const T*>(p.v) + head_off;

  // Prologue: Q tile and the first K/V tile in one group.
  load_rows_async<Cfg, BM, DQK>(sQ, gq, ts, q_row0, N, tid);
  load_rows_async<Cfg, BN, DQK>(sK, gk, ts, tile_begin * BN, N, tid);
  load_rows_async<Cfg, BN, D>(sV, gv, ts, tile_begin * BN, N, tid);
  ptx::cp_async_commit();

  // Per-lane ldmatrix row/column offsets (see attention_common.cuh for the fragment layouts).
  const int a_row = (lane & 7) + ((lane >> 3) & 1) * 8, a_col = (lane >> 4) * 8;   // Q (A)
  const int k_row = (lane & 7) + (lane >> 4) * 8, k_col = ((lane >> 3) & 1) * 8;   // K (B, non-trans)
  const int warp_row0 = warp * 16 * MT;

  float acc_o[MT][kDTiles][4];  // O rows (g, g+8) of each m-tile, fp32
  float row_max[MT][2], row_sum[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_o[mt][dt][e] = 0.0f;
    row_max[mt][0] = row_max[mt][1] = -INFINITY;
    row_sum[mt][0] = row_sum[mt][1] = 0.0f;
  }
  uint32_t q_frag[Cfg::kQInRegs ? MT : 1][Cfg::kQInRegs ? DQK / 16 : 1][4];

  for (int j = tile_begin; j < tile_end; ++j) {
    const int stage = (j - tile_begin) & 1;
    if (j + 1 < tile_end) {  // prefetch tile j+1 into the other stage (freed by the barrier ending j-1)
      load_rows_async<Cfg, BN, DQK>(sK + (stage ^ 1) * Cfg::kSmemKV, gk, ts, (j + 1) * BN, N, tid);
      load_rows_async<Cfg, BN, D>(sV + (stage ^ 1) * Cfg::kSmemKV, gv, ts, (j + 1) * BN, N, tid);
    }
    ptx::cp_async_commit();
    ptx::cp_async_wait<1>();  // everything but the newest group (tile j+1) has landed
    __syncthreads();

    if constexpr (Cfg::kQInRegs) {
      if (j == tile_begin) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int ks = 0; ks < DQK / 16; ++ks)
            ptx::ldmatrix_x4(q_frag[mt][ks],
                             ptx::smem_addr(sQ + (warp_row0 + mt * 16 + a_row) * P + ks * 16 + a_col));
      }
    }

    // S = Q K^T  [16*MT x BN] per warp, fp32.
    float s[MT][kNTiles][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.0f;
    const T* sKs = sK + stage * Cfg::kSmemKV;
#pragma unroll
    for (int ks = 0; ks < DQK / 16; ++ks) {
      uint32_t a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        if constexpr (Cfg::kQInRegs) {
#pragma unroll
          for (int e = 0; e < 4; ++e) a[mt][e] = q_frag[mt][ks][e];
        } else {
          ptx::ldmatrix_x4(a[mt], ptx::smem_addr(sQ + (warp_row0 + mt * 16 + a_row) * P + ks * 16 + a_col));
        }
      }
#pragma unroll
      for (int nb = 0; nb < BN / 16; ++nb) {
        uint32_t kb[4];  // n-tile 2nb: kb[0], kb[1]; n-tile 2nb+1: kb[2], kb[3]
        ptx::ldmatrix_x4(kb, ptx::smem_addr(sKs + (nb * 16 + k_row) * P + ks * 16 + k_col));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          ptx::mma_16816<T>(s[mt][2 * nb], a[mt], kb[0], kb[1]);
          ptx::mma_16816<T>(s[mt][2 * nb + 1], a[mt], kb[2], kb[3]);
        }
      }
    }

    if (j == n_blocks - 1 && N % BN != 0) mask_tail_keys(s, j * BN, lane, N);  // keys past N: last tile only
    online_softmax_tile(s, row_max, row_sum, acc_o, scale_log2);
    accumulate_pv<T>(acc_o, s, sV + stage * Cfg::kSmemKV, P, lane);
    __syncthreads();  // stage `stage` is refilled by the next iteration's prefetch
  }

  if (split.splits > 1) {
    store_split_rows<MT, D>(acc_o, row_max, row_sum, split, blockIdx.z, int64_t(bh) * N, warp_row0, lane, q_row0, N);
    return;
  }
  // Epilogue: staged in this warp's own rows of sQ; rows past N are not stored.
  T* go = static_cast<T*>(p.out) + int64_t(b) * p.out_batch_stride + int64_t(h) * p.out_head_stride;
  store_output_rows<T, MT, D>(acc_o, row_sum, sQ, P, warp_row0, lane, go, p.out_token_stride, q_row0, N);
}

// Host launcher for one configuration. (b, h) pairs go on grid.y, in chunks of 65535; key splits on grid.z,
// merged by combine_splits afterwards.
template <typename T, typename Cfg>
void launch_flash(const AttentionDeviceParams& p, const SplitKv& split, cudaStream_t stream) {
  allow_dynamic_smem<flash_fwd_kernel<T, Cfg>>(Cfg::kSmemBytes);
  const float scale_log2 = p.scale * 1.4426950408889634f;  // softmax(s x) = 2^(s x log2 e) / sum
  const int m_blocks = (p.tokens + Cfg::kBlockM - 1) / Cfg::kBlockM;
  const int bh_total = p.batch * p.heads;
  const int tiles = (p.tokens + Cfg::kBlockN - 1) / Cfg::kBlockN;
  if (split.splits < 1 || split.splits > tiles)  // every split needs a key tile
    fail("attention_exact", "{} key splits for {} key tiles of {}", split.splits, tiles, Cfg::kBlockN);
  for_each_head_chunk(bh_total, [&](int bh0, int heads) {
    const dim3 grid(m_blocks, heads, split.splits);
    flash_fwd_kernel<T, Cfg><<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(p, bh0, scale_log2, split);
    CUDA_CHECK_LAUNCH();
  });
  if (split.splits > 1) combine_splits<T>(p, split, stream);
}

// Key splits for this problem with Cfg's row blocks: enough to give every SM a block when (b, h, row block)
// alone fill at most half of them (ViT-Ti at batch 1: 12 blocks on 132 SMs), never more than the key tiles or
// kMaxKvSplits; 1 otherwise.
template <typename T, typename Cfg>
int kv_splits(const AttentionDeviceParams& p) {
  static const int sms = [] {
    int device = 0, count = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
    return count;
  }();
  const int64_t blocks = int64_t((p.tokens + Cfg::kBlockM - 1) / Cfg::kBlockM) * p.batch * p.heads;
  const int tiles = (p.tokens + Cfg::kBlockN - 1) / Cfg::kBlockN;
  if (blocks == 0 || 2 * blocks > sms || tiles < 2) return 1;
  return int(std::min<int64_t>({int64_t(tiles), int64_t(kMaxKvSplits), sms / blocks}));
}

// Expected throughput of a configuration on this problem: `speed` (its measured throughput relative to
// variant 0 on long sequences) times the fraction of the last wave of blocks that is busy. Long rows of
// few heads (1 x 12 x 4097) leave half a wave idle with 128-row blocks; 64-row blocks fill it.
template <typename T, typename Cfg>
double expected_speed(const AttentionDeviceParams& p, double speed) {
  static const int slots = [] {
    allow_dynamic_smem<flash_fwd_kernel<T, Cfg>>(Cfg::kSmemBytes);
    int device = 0, sms = 0, per_sm = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, flash_fwd_kernel<T, Cfg>, Cfg::kThreads,
                                                             Cfg::kSmemBytes));
    return std::max(1, sms * per_sm);
  }();
  const double blocks = double((p.tokens + Cfg::kBlockM - 1) / Cfg::kBlockM) * p.batch * p.heads;
  const double waves = blocks / slots;
  return speed * waves / std::ceil(waves);
}

// The instantiation table: variant -> configuration, per head dimension (names in attention_common.cu),
// and the automatic choice (variant -1) among the ones worth choosing. kQKDim < kHeadDim: low-rank heads.
template <typename T, int kHeadDim, int kQKDim>
struct Variants;
template <typename T, int kQKDim>
struct Variants<T, 64, kQKDim> {
  using V0 = Config<64, 4, 2, 64, true, kQKDim>;   // 128 rows, 32 per warp
  using V1 = Config<64, 4, 1, 64, true, kQKDim>;   // 64 rows, 16 per warp
  using V2 = Config<64, 8, 2, 64, true, kQKDim>;   // 256 rows, 8 warps
  using V3 = Config<64, 4, 2, 128, false, kQKDim>; // 128 rows, 128-key tiles, Q re-read from smem
  static int pick(const AttentionDeviceParams& p) {
    return expected_speed<T, V1>(p, 0.9) > expected_speed<T, V0>(p, 1.0) ? 1 : 0;
  }
};
template <typename T, int kQKDim>
struct Variants<T, 128, kQKDim> {
  using V0 = Config<128, 4, 2, 32, false, kQKDim>; // 128 rows, 32 per warp, 32-key tiles, Q re-read from smem
  using V1 = Config<128, 4, 1, 64, true, kQKDim>;  // 64 rows, 16 per warp
  using V2 = Config<128, 4, 2, 64, false, kQKDim>; // 128 rows, 64-key tiles (FlashAttention-2's shape; spills a little)
  using V3 = Config<128, 8, 1, 64, true, kQKDim>;  // 128 rows, 8 warps of 16 rows
  static int pick(const AttentionDeviceParams& p) {
    return expected_speed<T, V1>(p, 0.8) > expected_speed<T, V0>(p, 1.0) ? 1 : 0;
  }
};

// d = 80 (ViT-H/14, DeiT III huge: 1280 / 16 heads). The mma.sync kernel only: no wgmma kernel at this width.
template <typename T, int kQKDim>
struct Variants<T, 80, kQKDim> {
  using V0 = Config<80, 4, 2, 64, true, kQKDim>;   // 128 rows, 32 per warp, Q in regs
  using V1 = Config<80, 4, 1, 64, true, kQKDim>;   // 64 rows, 16 per warp
  using V2 = Config<80, 4, 2, 32, false, kQKDim>;  // 128 rows, 32-key tiles, Q re-read from smem
  using V3 = Config<80, 8, 1, 64, true, kQKDim>;   // 128 rows, 8 warps of 16 rows
  static int pick(const AttentionDeviceParams& p) {
    return expected_speed<T, V1>(p, 0.9) > expected_speed<T, V0>(p, 1.0) ? 1 : 0;
  }
};

// fn.template operator()<Cfg>() with the configuration of `variant` (-1: Vs::pick(p)).
template <typename Vs, typename Fn>
auto with_variant(const AttentionDeviceParams& p, int variant, const Fn& fn) {
  switch (variant < 0 ? Vs::pick(p) : variant) {
    case 1: return fn.template operator()<typename Vs::V1>();
    case 2: return fn.template operator()<typename Vs::V2>();
    case 3: return fn.template operator()<typename Vs::V3>();
    default: return fn.template operator()<typename Vs::V0>();
  }
}

template <typename T>
struct LaunchFlash {
  const AttentionDeviceParams& p;
  const SplitKv& split;
  cudaStream_t stream;
  template <typename Cfg>
  void operator()() const { launch_flash<T, Cfg>(p, split, stream); }
};

template <typename T>
struct KvSplitsOf {
  const AttentionDeviceParams& p;
  template <typename Cfg>
  int operator()() const { return kv_splits<T, Cfg>(p); }
};

template <typename T, int kHeadDim, int kQKDim>
void run_flash_attention(const AttentionDeviceParams& p, int variant, const SplitKv& split, cudaStream_t stream) {
  with_variant<Variants<T, kHeadDim, kQKDim>>(p, variant, LaunchFlash<T>{p, split, stream});
}
template <typename T, int kHeadDim, int kQKDim>
int pick_flash_variant(const AttentionDeviceParams& p) {
  return Variants<T, kHeadDim, kQKDim>::pick(p);
}
template <typename T, int kHeadDim, int kQKDim>
int flash_kv_splits(const AttentionDeviceParams& p, int variant) {
  return with_variant<Variants<T, kHeadDim, kQKDim>>(p, variant, KvSplitsOf<T>{p});
}

}  // namespace distrvit::cuda::flash
