// Fused exact attention for Hopper (sm_90a): FlashAttention-2's online softmax with both matrix products on
// wgmma. Included only by attention_hopper_<dtype>.cu; run time selection in attention_exact.cu.
//
// One block per (kBlockM = 64 x warpgroups query rows, b, h); each warpgroup owns 64 rows (Rows below).
// Q and K/V tiles of kBlockN keys go global -> shared by cp.async into 128-byte-swizzled tiles (wgmma.cuh).
// Key tile j issues S_j = Q K_j^T (wgmma, both operands from shared memory) and O += P_{j-1} V_{j-1} (wgmma, P from
// registers) back to back, then runs the softmax of S_j while the P V product is still on the tensor cores; O is
// rescaled once it has landed. Masking, fp32 statistics, exp2 with the scale folded in: as in the mma.sync kernel
// (attention_exact.cuh). Epilogue: O / l staged in the warpgroup's own Q rows, 16-byte stores.
// Every thread copies a share of each tile into two-stage rings ("lockstep"); one __syncthreads per key tile
// publishes tile j and frees tile j - 1's buffers for tile j + 1. With 64-key tiles a block needs 128 registers a
// thread, so two blocks (four warpgroups) share an SM and one block's softmax overlaps the other's products.
// This lockstep kernel is variants 0 / 1 (attention_hopper_variants.cuh); the TMA-fed kernels with ping-pong
// warpgroups (attention_hopper_tma.cuh, variants 2 / 3) reuse Rows and are the automatic choice.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "attention_common.cuh"
#include "cuda_check.h"
#include "wgmma.cuh"

namespace distrvit::cuda::hopper {

// kQKDim_: the q/k columns the scores use (= kHeadDim, or fewer for low-rank heads); V and O have kHeadDim.
template <int kHeadDim_, int kQKDim_, int kWarpGroups_, int kBlockN_, int kMinBlocks_ = 1>
struct Config {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kQKDim = kQKDim_;
  static constexpr int kWarpGroups = kWarpGroups_;
  static constexpr int kThreads = 128 * kWarpGroups;
  static constexpr int kBlockM = 64 * kWarpGroups;  // query rows per block
  static constexpr int kBlockN = kBlockN_;          // keys per K/V tile
  static constexpr int kMinBlocks = kMinBlocks_;
  static constexpr int kQKSub = (kQKDim + 63) / 64;  // 64-column sub-tiles of Q and K
  static constexpr int kVSub = kHeadDim / 64;        // of V and of the output staging
  static constexpr uint32_t kQBytes = kBlockM * wgmma::kSwizzleRowBytes * kVSub;  // Q, then the output staging
  static constexpr uint32_t kKBytes = kBlockN * wgmma::kSwizzleRowBytes * kQKSub; // one K stage
  static constexpr uint32_t kVBytes = kBlockN * wgmma::kSwizzleRowBytes * kVSub;  // one V stage
  static constexpr size_t kSmemBytes = kQBytes + 2 * (kKBytes + kVBytes) + wgmma::kSwizzleAtomBytes;  // + alignment
  static_assert((kHeadDim == 64 || kHeadDim == 128) && kQKDim % 16 == 0 && kQKDim <= kHeadDim,
                "head_dim 64 or 128, q/k width a multiple of 16");
  static_assert(kBlockN == 64 || kBlockN == 128, "key tiles of 64 or 128");
};

// Rows [row0, row0 + kRows) x columns [0, kCols) of one head (row r at g + r * row_stride) -> a SW128 tile of kRows
// rows at shared address `tile`; rows at or past rows_valid become zeros.
template <int kRows, int kCols, int kThreads, typename T>
__device__ __forceinline__ void load_tile_sw128(uint32_t tile, const T* g, int64_t row_stride, int row0,
                                                int rows_valid, int tid) {
  constexpr int kChunks = kCols / 8;  // 16-byte chunks per row
  constexpr int kTotal = kRows * kChunks;
  constexpr int kIters = (kTotal + kThreads - 1) / kThreads;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int i = tid + it * kThreads;
    if (kTotal % kThreads != 0 && i >= kTotal) break;
    const int r = i / kChunks, c = i % kChunks;
    const bool valid = row0 + r < rows_valid;
    const T* src = g + (valid ? int64_t(row0 + r) * row_stride + c * 8 : 0);
    ptx::cp_async_16(tile + wgmma::sw128_offset(r, c * 8, kRows), src, valid);
  }
}

// The 64 query rows of one warpgroup: accumulators, softmax statistics, and the steps of a key tile.
template <typename T, typename Cfg>
struct Rows {
  static constexpr int D = Cfg::kHeadDim, DQK = Cfg::kQKDim, BM = Cfg::kBlockM, BN = Cfg::kBlockN;
  static constexpr int kRowBytes = wgmma::kSwizzleRowBytes, kAtom = wgmma::kSwizzleAtomBytes;
  float acc_o[D / 2];       // O [64 x D], accumulator layout (wgmma.cuh)
  float s[BN / 2];          // S_j [64 x BN], then exp2 of it
  uint32_t pa[BN / 16][4];  // P as A fragments, one per 16 keys
  float row_max[2], row_sum[2];  // of rows lane / 4 and lane / 4 + 8 of this warp's 16; sums lane-partial

  __device__ __forceinline__ void init() {
#pragma unroll
    for (int i = 0; i < D / 2; ++i) acc_o[i] = 0.0f;
    row_max[0] = row_max[1] = -INFINITY;
    row_sum[0] = row_sum[1] = 0.0f;
  }

  // S = Q K^T as one wgmma group: q_rows = this warpgroup's 64 rows of the Q tile, k_tile = a K stage.
  __device__ __forceinline__ void issue_s(uint32_t q_rows, uint32_t k_tile) {
    const uint64_t desc_q = wgmma::sw128_descriptor(q_rows, 16, kAtom);
    const uint64_t desc_k = wgmma::sw128_descriptor(k_tile, 16, kAtom);
#pragma unroll
    for (int ks = 0; ks < DQK / 16; ++ks) {
      const uint32_t col_off = (ks * 16 % 64) * 2;  // bytes into the 128-byte row
      wgmma::mma_ss<T, BN>(s, wgmma::descriptor_plus(desc_q, (ks * 16 / 64) * BM * kRowBytes + col_off),
                           wgmma::descriptor_plus(desc_k, (ks * 16 / 64) * BN * kRowBytes + col_off), ks > 0);
    }
    wgmma::commit_group();
  }

  // O += P V_tile as one wgmma group (16 keys per instruction).
  __device__ __forceinline__ void issue_pv(uint32_t v_tile) {
    const uint64_t desc_v = wgmma::sw128_descriptor(v_tile, BN * kRowBytes, kAtom);
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk)
      wgmma::mma_rs_mn<T, D>(acc_o, pa[kk], wgmma::descriptor_plus(desc_v, kk * 16 * kRowBytes), 1);
    wgmma::commit_group();
  }

  // After the P V group has landed: its registers are free again.
  __device__ __forceinline__ void pv_landed() {
    wgmma::keep(acc_o);
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) wgmma::keep(pa[kk]);
  }

  // Keys at or past N (the last tile, which starts at key `tile_key0`) get -inf, without branches.
  __device__ __forceinline__ void mask_keys(int tile_key0, int lane, int N) {
    const int key0 = tile_key0 + 2 * (lane & 3);
#pragma unroll
    for (int i = 0; i < BN / 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[4 * i + e] = key0 + i * 8 + (e & 1) < N ? s[4 * i + e] : -INFINITY;
  }

  // Online softmax of S_j in place; corr = exp2 of the change of each row's max (O is rescaled by it later).
  __device__ __forceinline__ void softmax(float scale_log2, float (&corr)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      // 128-key tiles: four partial maxima and sums (shorter dependency chains; with 64 keys they cost registers).
      constexpr int kParts = BN >= 128 ? 4 : 1;
      float part[kParts];
#pragma unroll
      for (int k = 0; k < kParts; ++k) part[k] = k == 0 ? row_max[r] : -INFINITY;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i)
        part[i % kParts] = fmaxf(part[i % kParts], fmaxf(s[4 * i + 2 * r], s[4 * i + 2 * r + 1]));
      float mx = part[0];
#pragma unroll
      for (int k = 1; k < kParts; ++k) mx = fmaxf(mx, part[k]);
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      corr[r] = ptx::exp2_approx((row_max[r] - mx) * scale_log2);  // every tile has a valid key: mx is finite
      row_max[r] = mx;
      const float mx_scaled = mx * scale_log2;
      float sum[kParts];
#pragma unroll
      for (int k = 0; k < kParts; ++k) sum[k] = 0.0f;
#pragma unroll
      for (int i = 0; i < BN / 8; ++i)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float pe = ptx::exp2_approx(fmaf(s[4 * i + 2 * r + e], scale_log2, -mx_scaled));
          s[4 * i + 2 * r + e] = pe;
          sum[(2 * i + e) % kParts] += pe;
        }
#pragma unroll
      for (int k = 1; k < kParts; ++k) sum[0] += sum[k];
      row_sum[r] = row_sum[r] * corr[r] + sum[0];
    }
  }

  __device__ __forceinline__ void rescale_o(const float (&corr)[2]) {
#pragma unroll
    for (int i = 0; i < D / 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_o[4 * i + e] *= corr[e / 2];
  }

  // The rest of key tile j (starting at key `tile_key0`) once its S product (and, unless kFirst, P_{j-1} V_{j-1})
  // has been issued: S lands, the keys past N of the last tile are masked, the softmax runs while P V may still be
  // on the tensor cores, then O is rescaled once P V has landed. No branches between a wgmma and its wait: ptxas
  // would serialize them.
  template <bool kFirst, bool kLast>
  __device__ __forceinline__ void finish_tile(int tile_key0, int lane, int N, float scale_log2) {
    if constexpr (!kFirst) {
      wgmma::wait_group<1>();  // S_j is done; P_{j-1} V_{j-1} may still run
    } else {
      wgmma::wait_group<0>();
    }
    wgmma::keep(s);
    if constexpr (kLast) mask_keys(tile_key0, lane, N);
    float corr[2];
    softmax(scale_log2, corr);
    if constexpr (!kFirst) {
      wgmma::wait_group<0>();
      pv_landed();
      rescale_o(corr);
    }
  }

  // P (the exp2s in s) -> A fragments: k-step kk covers n8 blocks 2 kk and 2 kk + 1 of S.
  __device__ __forceinline__ void pack_p() {
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      pa[kk][0] = ptx::pack2<T>(s[8 * kk + 0], s[8 * kk + 1]);
      pa[kk][1] = ptx::pack2<T>(s[8 * kk + 2], s[8 * kk + 3]);
      pa[kk][2] = ptx::pack2<T>(s[8 * kk + 4], s[8 * kk + 5]);
      pa[kk][3] = ptx::pack2<T>(s[8 * kk + 6], s[8 * kk + 7]);
    }
  }

  // O / l as T into this warpgroup's rows of the staging tile (SW128, BM rows, at generic address `staging`),
  // then 16-byte stores of the rows below N. The caller makes sure no wgmma still reads those rows.
  __device__ __forceinline__ void store(unsigned char* staging, int wg, int warp_in_wg, int lane, T* out,
                                        int64_t token_stride, int q_row0, int N) const {
    const int warp_row0 = wg * 64 + warp_in_wg * 16;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float inv = 1.0f / quad_sum(row_sum[r]);
      const int row = warp_row0 + lane / 4 + 8 * r;
#pragma unroll
      for (int i = 0; i < D / 8; ++i)
        *reinterpret_cast<uint32_t*>(staging + wgmma::sw128_offset(row, 8 * i + 2 * (lane & 3), BM)) =
            ptx::pack2<T>(acc_o[4 * i + 2 * r] * inv, acc_o[4 * i + 2 * r + 1] * inv);
    }
    __syncwarp();
    constexpr int kChunks = D / 8;
#pragma unroll
    for (int i = lane; i < 16 * kChunks; i += 32) {
      const int row = warp_row0 + i / kChunks, c = i % kChunks;
      if (q_row0 + row < N)
        *reinterpret_cast<uint4*>(out + int64_t(q_row0 + row) * token_stride + c * 8) =
            *reinterpret_cast<const uint4*>(staging + wgmma::sw128_offset(row, c * 8, BM));
    }
  }
};

// Where a block's problem lives: this (b, h)'s q/k/v/out and its query rows.
template <typename T>
struct BlockProblem {
  const T *q, *k, *v;  // [N][D] rows at token_stride
  T* out;
  int64_t token_stride, out_token_stride;
  int N, q_row0, n_tiles;
  __device__ BlockProblem(const AttentionDeviceParams& p, int bh_offset, int block_m, int block_n) {
    const int bh = bh_offset + blockIdx.y;
    const int b = bh / p.heads, h = bh % p.heads;
    const int64_t head_off = int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride;
    q = static_cast<const T*>(p.q) + head_off;
    k = static_cast<const T*>(p.k) + head_off;
    v = static_cast<const T*>(p.v) + head_off;
    out = static_cast<T*>(p.out) + int64_t(b) * p.out_batch_stride + int64_t(h) * p.out_head_stride;
    token_stride = p.qkv_token_stride;
    out_token_stride = p.out_token_stride;
    N = p.tokens;
    q_row0 = blockIdx.x * block_m;
    n_tiles = (N + block_n - 1) / block_n;
  }
};

using wgmma::align_1024;

// step(j, first, last) for the key tiles j = 0 .. n_tiles - 1, first and last as std::true_type / std::false_type.
template <typename Step>
__device__ __forceinline__ void for_each_key_tile(int n_tiles, const Step& step) {
  using True = std::true_type;
  using False = std::false_type;
  if (n_tiles == 1) {
    step(0, True{}, True{});
  } else {
    step(0, True{}, False{});
    for (int j = 1; j < n_tiles - 1; ++j) step(j, False{}, False{});
    step(n_tiles - 1, False{}, True{});
  }
}

// The key-tile loop of the lockstep kernels (exact and DistrAttention), after the caller has committed the copies of
// Q and of key tile 0's K part: per tile j one __syncthreads (K_j and V_{j-1} landed, tile j - 1's buffers free),
// the copies of K_{j+1} (load_k(t, stage)) and V_j, S_j = Q K_j^T with the K operand at k_operand(stage) (the K
// stage itself, or a K~ built from it), P_{j-1} V_{j-1}, the softmax; then the last P V. Masking in the last tile
// only, without branches: a branch between a wgmma and its wait makes ptxas serialize them.
template <typename T, typename Cfg, typename LoadK, typename KOperand>
__device__ __forceinline__ void run_key_tiles(Rows<T, Cfg>& rows, const BlockProblem<T>& bp, uint32_t q_rows,
                                              uint32_t sV, int tid, float scale_log2, const LoadK& load_k,
                                              const KOperand& k_operand) {
  constexpr int D = Cfg::kHeadDim, BN = Cfg::kBlockN, NT = Cfg::kThreads;
  const int N = bp.N, lane = tid % 32;
  auto tile_step = [&](const int j, auto first, auto last) {
    constexpr bool kFirst = decltype(first)::value, kLast = decltype(last)::value;
    ptx::cp_async_wait<0>();  // K_j and V_{j-1} (and Q) have landed for this thread ...
    wgmma::fence_proxy_async();
    __syncthreads();  // ... and for all; every warpgroup is done with K_{j-1} and V_{j-2}
    if constexpr (!kLast) load_k(j + 1, (j + 1) & 1);
    load_tile_sw128<BN, D, NT>(sV + (j & 1) * Cfg::kVBytes, bp.v, bp.token_stride, j * BN, N, tid);
    ptx::cp_async_commit();
    const uint32_t k_tile = k_operand(j & 1);

    wgmma::fence();
    rows.issue_s(q_rows, k_tile);
    if constexpr (!kFirst) rows.issue_pv(sV + ((j - 1) & 1) * Cfg::kVBytes);
    rows.template finish_tile<kFirst, kLast>(j * BN, lane, N, scale_log2);
    rows.pack_p();
  };
  for_each_key_tile(bp.n_tiles, tile_step);

  // The last P V.
  ptx::cp_async_wait<0>();
  wgmma::fence_proxy_async();
  __syncthreads();
  wgmma::fence();
  rows.issue_pv(sV + ((bp.n_tiles - 1) & 1) * Cfg::kVBytes);
  wgmma::wait_group<0>();
  rows.pv_landed();
}

// Lockstep feeding: all threads copy, one __syncthreads per key tile.
template <typename T, typename Cfg>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocks)
    hopper_flash_kernel(const AttentionDeviceParams p, const int bh_offset, const float scale_log2) {
#if defined(DISTRVIT_HAS_WGMMA)
  constexpr int DQK = Cfg::kQKDim, BM = Cfg::kBlockM, BN = Cfg::kBlockN, NT = Cfg::kThreads;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t raw = ptx::smem_addr(smem_raw);
  const uint32_t sQ = align_1024(raw);          // [kVSub][BM][128 B]
  const uint32_t sK = sQ + Cfg::kQBytes;        // [2][kQKSub][BN][128 B]
  const uint32_t sV = sK + 2 * Cfg::kKBytes;    // [2][kVSub][BN][128 B]
  const int tid = threadIdx.x, lane = tid % 32, wg = tid / 128, warp_in_wg = (tid % 128) / 32;
  const BlockProblem<T> bp(p, bh_offset, BM, BN);
  const int N = bp.N;

  auto load_k = [&](int tile, int stage) {  // key tile `tile`'s first DQK columns into K stage `stage`
    load_tile_sw128<BN, DQK, NT>(sK + stage * Cfg::kKBytes, bp.k, bp.token_stride, tile * BN, N, tid);
  };
  load_tile_sw128<BM, DQK, NT>(sQ, bp.q, bp.token_stride, bp.q_row0, N, tid);
  load_k(0, 0);
  ptx::cp_async_commit();
  Rows<T, Cfg> rows;
  rows.init();
  run_key_tiles(rows, bp, sQ + wg * 64 * wgmma::kSwizzleRowBytes, sV, tid, scale_log2, load_k,
                [&](int stage) { return sK + stage * Cfg::kKBytes; });
  asm volatile("bar.sync %0, 128;\n" ::"r"(1 + wg) : "memory");  // the warpgroup's S products are all done
  rows.store(smem_raw + (sQ - raw), wg, warp_in_wg, lane, bp.out, bp.out_token_stride, bp.q_row0, N);
#else
  __trap();  // built without sm_90a: the host never launches this (hopper::available())
#endif
}

template <typename T, typename Cfg>
void launch(const AttentionDeviceParams& p, cudaStream_t stream) {
  constexpr auto kernel = hopper_flash_kernel<T, Cfg>;
  allow_dynamic_smem<kernel>(Cfg::kSmemBytes);
  const float scale_log2 = p.scale * 1.4426950408889634f;
  const int m_blocks = (p.tokens + Cfg::kBlockM - 1) / Cfg::kBlockM;
  for_each_head_chunk(p.batch * p.heads, [&](int bh0, int heads) {
    kernel<<<dim3(m_blocks, heads), Cfg::kThreads, Cfg::kSmemBytes, stream>>>(p, bh0, scale_log2);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace distrvit::cuda::hopper
