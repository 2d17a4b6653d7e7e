// DistrAttention's fused forward on Hopper (sm_90a): the wgmma exact kernel (attention_hopper.cuh) with
// S = Q~ K~^T over the EP fused columns instead of Q K^T over D. Included only by attention_distr_hopper_<dtype>.cu;
// chosen in attention_distr.cu (distr::Path::kHopper, and kAuto where it fits).
//
// Inputs as for distr_fwd_kernel (attention_distr.cu): the grouping prologue's permutation perm
// [B*H, nblocks, D] and Q~ [B*H, N, EP]. Each warpgroup's 64 query rows lie in one l-block (the host takes this path
// only when l is a multiple of 64 or one block covers all rows), so each warpgroup has one grouping and builds its
// own K~ [BN][EP] in shared memory from every K tile as it lands: thread t owns K~ columns (2 jp, 2 jp + 1) and sums
// their G source columns (group order, fp32, one rounding; G = 2: one packed add) over its rows, exactly as
// distr_fwd_kernel does. K is never gathered from global memory and K~ never leaves shared memory. Then a
// proxy fence and a warpgroup barrier, and the exact kernel's steps: S_j and P_{j-1} V_{j-1} on wgmma, the
// softmax of S_j while P V runs. P V is unchanged (full D).
#pragma once
#include "attention_hopper.cuh"
#include "attention_hopper_variants.cuh"
#include "dtype_util.cuh"

namespace distrvit::cuda::hopper {

template <typename Cfg, int kGroup>
struct DistrTiles {
  static constexpr int D = Cfg::kHeadDim, EP = Cfg::kQKDim, BN = Cfg::kBlockN, G = kGroup, E = D / G;
  static constexpr uint32_t kKBytes = Cfg::kVBytes;                          // a K stage: all D columns
  static constexpr uint32_t kKtBytes = BN * wgmma::kSwizzleRowBytes;         // one warpgroup's K~ (EP <= 64)
  static constexpr size_t kSmemBytes =
      Cfg::kQBytes + 2 * kKBytes + 2 * Cfg::kVBytes + Cfg::kWarpGroups * kKtBytes + wgmma::kSwizzleAtomBytes;
  static constexpr int kPairs = EP / 2;              // K~ column pairs per row
  static constexpr int kRowStep = 128 / kPairs;      // rows between a thread's K~ rows
  static_assert(EP <= 64 && EP % 16 == 0 && 128 % kPairs == 0 && BN % kRowStep == 0, "K~ build mapping");
};

template <typename T, typename Cfg, int kGroup>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    hopper_distr_kernel(const AttentionDeviceParams p, const T* __restrict__ q_fused, const uint8_t* __restrict__ perm,
                        const int block_len, const int nblocks, const int bh_offset, const float scale_log2) {
#if defined(DISTRVIT_HAS_WGMMA)
  using Tiles = DistrTiles<Cfg, kGroup>;
  constexpr int D = Cfg::kHeadDim, EP = Cfg::kQKDim, BM = Cfg::kBlockM, BN = Cfg::kBlockN, NT = Cfg::kThreads;
  constexpr int G = kGroup, E = Tiles::E;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t raw = ptx::smem_addr(smem_raw);
  const uint32_t sQ = align_1024(raw);                   // [kVSub][BM][128 B]: Q~ (EP columns), then the staging
  const uint32_t sK = sQ + Cfg::kQBytes;                 // [2][kVSub][BN][128 B]
  const uint32_t sV = sK + 2 * Tiles::kKBytes;           // [2][kVSub][BN][128 B]
  const uint32_t sKt = sV + 2 * Cfg::kVBytes;            // [warpgroups][BN][128 B]
  auto at = [&](uint32_t addr) { return smem_raw + (addr - raw); };  // shared address -> generic pointer
  const int tid = threadIdx.x, lane = tid % 32, wg = tid / 128, warp_in_wg = (tid % 128) / 32, t = tid % 128;
  const BlockProblem<T> bp(p, bh_offset, BM, BN);
  const int N = bp.N;
  const T* gqf = q_fused + int64_t(bh_offset + blockIdx.y) * N * EP;  // [N][EP]

  auto load_k = [&](int tile, int stage) {  // key tile `tile`, all D columns, into K stage `stage`
    load_tile_sw128<BN, D, NT>(sK + stage * Tiles::kKBytes, bp.k, bp.token_stride, tile * BN, N, tid);
  };
  load_tile_sw128<BM, EP, NT>(sQ, gqf, EP, bp.q_row0, N, tid);
  load_k(0, 0);
  ptx::cp_async_commit();

  // This warpgroup's grouping: its l-block's permutation; thread t owns K~ columns 2 jp, 2 jp + 1.
  const int jp = t % Tiles::kPairs, kr0 = t / Tiles::kPairs;
  int src_col[2][G];
  {
    const int blk = min((bp.q_row0 + 64 * wg) / block_len, nblocks - 1);
    const uint8_t* pm = perm + (int64_t(bh_offset + blockIdx.y) * nblocks + blk) * D;
#pragma unroll
    for (int e = 0; e < 2; ++e)
#pragma unroll
      for (int g = 0; g < G; ++g) src_col[e][g] = (2 * jp + e < E) ? int(pm[(2 * jp + e) * G + g]) : 0;
  }
  // Rows r = kr0 + k kRowStep of a tile: the swizzle depends on r % 8, which takes kParities values over k, so the
  // byte offsets of the source columns (and of the K~ pair) within a row are computed once per parity.
  constexpr int kParities = Tiles::kRowStep % 8 == 0 ? 1 : 2;
  uint32_t src_off[kParities][2][G], dst_off[kParities];
#pragma unroll
  for (int par = 0; par < kParities; ++par) {
    const int r = kr0 + par * Tiles::kRowStep;
#pragma unroll
    for (int e = 0; e < 2; ++e)
#pragma unroll
      for (int g = 0; g < G; ++g) src_off[par][e][g] = wgmma::sw128_offset(r, src_col[e][g], BN) - r * 128;
    dst_off[par] = wgmma::sw128_offset(r, 2 * jp, BN) - r * 128;
  }
  const uint32_t kt_tile = sKt + wg * Tiles::kKtBytes;
  auto build_kt = [&](const uint32_t k_tile) {  // K~ [BN][EP] from a K stage, sums in group order, rounded to T
#pragma unroll
    for (int k = 0; k < BN / Tiles::kRowStep; ++k) {
      const int par = kParities == 1 ? 0 : k & 1;
      const uint32_t row = k_tile + (kr0 + k * Tiles::kRowStep) * 128;
      auto k_bits = [&](int e, int g) {  // K[r][src_col[e][g]] as 16 bits
        return uint32_t(*reinterpret_cast<const uint16_t*>(at(row + src_off[par][e][g])));
      };
      uint32_t pair;
      if constexpr (G == 2) {  // {k[c00], k[c10]} + {k[c01], k[c11]}: one packed add, each sum rounded once
        pair = ptx::add2<T>(k_bits(0, 0) | (k_bits(1, 0) << 16), k_bits(0, 1) | (k_bits(1, 1) << 16));
      } else {
        float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
        for (int g = 0; g < G; ++g) {
          s0 += to_float(*reinterpret_cast<const T*>(at(row + src_off[par][0][g])));
          s1 += to_float(*reinterpret_cast<const T*>(at(row + src_off[par][1][g])));
        }
        if constexpr (E < EP) {
          if (2 * jp >= E) s0 = 0.0f;
          if (2 * jp + 1 >= E) s1 = 0.0f;
        }
        pair = ptx::pack2<T>(s0, s1);
      }
      *reinterpret_cast<uint32_t*>(at(kt_tile + (kr0 + k * Tiles::kRowStep) * 128 + dst_off[par])) = pair;
    }
    wgmma::fence_proxy_async();
    asm volatile("bar.sync %0, 128;\n" ::"r"(1 + wg) : "memory");  // K~ complete for this warpgroup's wgmma
  };

  Rows<T, Cfg> rows;
  rows.init();
  run_key_tiles(rows, bp, sQ + wg * 64 * wgmma::kSwizzleRowBytes, sV, tid, scale_log2, load_k, [&](int stage) {
    build_kt(sK + stage * Tiles::kKBytes);
    return kt_tile;
  });
  asm volatile("bar.sync %0, 128;\n" ::"r"(1 + wg) : "memory");  // the warpgroup's S products are all done
  rows.store(smem_raw + (sQ - raw), wg, warp_in_wg, lane, bp.out, bp.out_token_stride, bp.q_row0, N);
#else
  __trap();  // built without sm_90a: the host never launches this (hopper::available())
#endif
}

template <typename T, typename Cfg, int kGroup>
void launch_distr(const AttentionDeviceParams& p, const uint8_t* perm, const void* q_fused, int block_len,
                  int nblocks, cudaStream_t stream) {
  using Tiles = DistrTiles<Cfg, kGroup>;
  constexpr auto kernel = hopper_distr_kernel<T, Cfg, kGroup>;
  allow_dynamic_smem<kernel>(Tiles::kSmemBytes);
  const float scale_log2 = p.scale * 1.4426950408889634f;
  const int m_blocks = (p.tokens + Cfg::kBlockM - 1) / Cfg::kBlockM;
  for_each_head_chunk(p.batch * p.heads, [&](int bh0, int heads) {
    kernel<<<dim3(m_blocks, heads), Cfg::kThreads, Tiles::kSmemBytes, stream>>>(p, static_cast<const T*>(q_fused), perm,
                                                                              block_len, nblocks, bh0, scale_log2);
    CUDA_CHECK_LAUNCH();
  });
}

// Runs the kernel for (D, G) with 128-row blocks of 64-key tiles; variant 1 caps registers at 128 for two blocks per
// SM (spills a little), variant 0 does not. block_len: the effective l (a multiple of 64, or >= N); perm / q_fused
// from the grouping prologue.
template <typename T, int kHeadDim, int kGroup>
void run_distr_attention(const AttentionDeviceParams& p, const uint8_t* perm, const void* q_fused, int block_len,
                         int nblocks, int variant, cudaStream_t stream) {
  constexpr int kFused = kHeadDim / kGroup < 16 ? 16 : kHeadDim / kGroup;
  if (variant == 1)
    launch_distr<T, Config<kHeadDim, kFused, 2, 64, 2>, kGroup>(p, perm, q_fused, block_len, nblocks, stream);
  else
    launch_distr<T, Config<kHeadDim, kFused, 2, 64, 1>, kGroup>(p, perm, q_fused, block_len, nblocks, stream);
}

// The prefused path (attention_common.cuh): the exact kernel's TMA variant for this q/k width, picked as for exact
// attention unless its blocks would straddle l-blocks.
template <typename T, int kHeadDim, int kGroup>
bool run_distr_prefused(const AttentionDeviceParams& p, const void* q_fused, const void* k_fused, int block_len,
                        int nblocks, cudaStream_t stream) {
  using Vs = Variants<kHeadDim, kHeadDim / kGroup < 16 ? 16 : kHeadDim / kGroup>;
  const T* q = static_cast<const T*>(q_fused);
  const T* k = static_cast<const T*>(k_fused);
  return with_picked_variant<Vs>(Vs::pick_fused(p, nblocks), [&](auto cfg) {
    return launch_tma_fused<T, decltype(cfg)>(p, q, k, block_len, nblocks, stream);
  });
}

// The expanded path: the exact kernel's TMA variant, picked as for exact attention, on Q' [B*H][N][D] (the grouping
// prologue's expanded output) and p's k, v.
template <typename T, int kHeadDim>
bool run_distr_expanded(const AttentionDeviceParams& p, const void* q_expanded, cudaStream_t stream) {
  using Vs = Variants<kHeadDim, kHeadDim>;
  const T* q = static_cast<const T*>(q_expanded);
  return with_picked_variant<Vs>(Vs::pick(p), [&](auto cfg) { return launch_tma_q<T, decltype(cfg)>(p, q, stream); });
}

}  // namespace distrvit::cuda::hopper
