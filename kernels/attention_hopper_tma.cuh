// Fused exact attention for Hopper (sm_90a) fed by the tensor memory accelerator: the wgmma steps of
// attention_hopper.cuh (Rows: S_j and P_{j-1} V_{j-1} issued back to back, the softmax of S_j while P V runs), with
// the lockstep feeding replaced by a kStages-deep ring of K/V tiles that TMA fills and mbarriers track, so the
// consumer warpgroups (two or three, 64 query rows each) no longer meet at a __syncthreads every key tile and can
// take turns on the tensor cores.
//
// - Copies: Q once, then K_t and V_t of tile t into stage t % kStages, the stage's "full" barrier expecting their
//   bytes. Each consumer warp releases tile t (lane 0 arrives at the stage's "empty" barrier) once its P V of that
//   tile has landed; tile t + kStages goes into the stage when all of them have.
//   kProducerThreads = 32: an extra warp issues every copy and runs up to kStages - 1 tiles ahead.
//   kProducerThreads = 128: an extra warpgroup does, after giving its registers to the consumer warpgroups
//   (setmaxnreg: 24 for it, 240 each for two consumers, 160 for three), so that 128-key tiles fit at d = 128.
//   Otherwise thread 0 issues them between its own tile steps: during tile j it refills the stage of tile j - 2
//   with tile j + kStages - 2 (the slower warpgroup is about one tile behind, so the wait is short).
// - Ping-pong (kPingPong): the warpgroups issue their two products of a tile in turn, w after w - 1 and warpgroup 0
//   after the last one's previous tile, through one named barrier per warpgroup; the tensor cores then run one
//   warpgroup's products while the others compute their softmax.
// Same problems as attention_hopper.cuh (q/k width kQKDim <= head_dim: the copies move 64 columns of q and k, the
// products use the first kQKDim), 16-byte aligned views whose strides are multiples of 8 elements (the host falls
// back on the lockstep kernel otherwise). With FusedQK, q and k are DistrAttention's Q~ [B*H][N][64] and per-block
// K~ [B*H][nblocks][N][64] (attention_distr.cu) and v the usual view: each block's query rows lie in one l-block;
// or (q_per_head alone) q is its expanded Q' [B*H][N][D] and k, v the usual views.
#pragma once
#include "attention_hopper.cuh"
#include "pdl.cuh"
#include "tma.cuh"

namespace distrvit::cuda::hopper {

template <int kHeadDim, int kQKDim, int kBlockN, int kStages_, bool kPingPong_, int kProducerThreads_,
          int kMinBlocks = 1, int kWarpGroups = 2>
struct TmaConfig : Config<kHeadDim, kQKDim, kWarpGroups, kBlockN, kMinBlocks> {
  using Base = Config<kHeadDim, kQKDim, kWarpGroups, kBlockN, kMinBlocks>;
  static constexpr int kStages = kStages_;
  static constexpr bool kPingPong = kPingPong_;
  static constexpr int kProducerThreads = kProducerThreads_;  // 0 (thread 0 copies), 32 or 128
  static constexpr bool kProducerWarp = kProducerThreads > 0;
  static constexpr bool kShareRegisters = kProducerThreads == 128;  // setmaxnreg
  // The producer keeps 24 registers a thread; the consumers share the rest of the 64 K (a multiple of 8 each).
  static constexpr int kProducerRegisters = 24;
  static constexpr int kConsumerRegisters = std::min(240, (65536 - 128 * kProducerRegisters) / Base::kThreads / 8 * 8);
  static_assert(kProducerThreads == 0 || kProducerThreads == 32 || kProducerThreads == 128, "producer threads");
  static_assert(!kShareRegisters || kMinBlocks == 1, "setmaxnreg splits one block's registers");
  static constexpr int kConsumers = Base::kThreads;                       // the consumer warpgroups
  static constexpr int kThreads = kConsumers + kProducerThreads;
  static constexpr uint32_t kQCopyBytes = Base::kBlockM * wgmma::kSwizzleRowBytes * Base::kQKSub;
  static constexpr uint32_t kStageBytes = Base::kKBytes + Base::kVBytes;  // K_t then V_t
  static constexpr size_t kSmemBytes = Base::kQBytes + kStages * kStageBytes + wgmma::kSwizzleAtomBytes;
  // Registers per thread for kMinBlocks blocks per SM, as __maxnreg__: each of the SM's four schedulers holds 16 K
  // registers for its share of the warps (a nine-warp block puts three warps on one of them).
  static constexpr int kWarpsPerScheduler = ((kThreads / 32) * kMinBlocks + 3) / 4;
  static constexpr int kMaxRegisters = std::min(255, 16384 / (32 * kWarpsPerScheduler) / 8 * 8);
  static_assert(kStages >= (kProducerWarp ? 2 : 3), "thread 0 refills a stage two tiles after its use");
};

// The tensor maps of q (boxes of kBlockM rows), k and v (kBlockN rows).
struct QkvMaps {
  CUtensorMap q, k, v;
};
// DistrAttention's fused q and k (block_len 0: the exact kernel's views): a block's rows [r0, r0 + kBlockM) use
// K~ block min(r0 / block_len, nblocks - 1). q_per_head: q is a [B*H][N][*] tensor (implied by block_len > 0).
struct FusedQK {
  int block_len = 0, nblocks = 1;
  bool q_per_head = false;
};

template <typename T, typename Cfg>
__global__ void __maxnreg__(Cfg::kMaxRegisters)
    hopper_tma_kernel(const __grid_constant__ QkvMaps maps, const AttentionDeviceParams p, const FusedQK fused,
                      const int bh_offset, const float scale_log2) {
#if defined(DISTRVIT_HAS_WGMMA)
  constexpr int BM = Cfg::kBlockM, BN = Cfg::kBlockN, S = Cfg::kStages, kVSub = Cfg::kVSub, kQKSub = Cfg::kQKSub;
  constexpr int kConsumerWarps = Cfg::kConsumers / 32;
  constexpr int W = Cfg::kWarpGroups;
  constexpr int kTurn0 = 1 + W;  // named barriers 1 .. W: each warpgroup's own; W + 1 + w: warpgroup w's turn
  extern __shared__ unsigned char smem_raw[];
  __shared__ __align__(8) uint64_t barriers[1 + 2 * S];  // Q landed; per stage: full, empty
  const uint32_t raw = ptx::smem_addr(smem_raw);
  const uint32_t sQ = align_1024(raw);     // [kVSub][BM][128 B]: Q (kQKSub sub-tiles), then the output staging
  const uint32_t sKV = sQ + Cfg::kQBytes;  // [S] x { K [kQKSub][BN][128 B], V [kVSub][BN][128 B] }
  const uint32_t q_landed = ptx::smem_addr(&barriers[0]);
  auto full = [&](int stage) { return ptx::smem_addr(&barriers[1 + stage]); };
  auto empty = [&](int stage) { return ptx::smem_addr(&barriers[1 + S + stage]); };
  auto k_tile = [&](int stage) { return sKV + stage * Cfg::kStageBytes; };
  auto v_tile = [&](int stage) { return sKV + stage * Cfg::kStageBytes + Cfg::kKBytes; };
  const int tid = threadIdx.x, lane = tid % 32, wg = tid / 128, warp_in_wg = (tid % 128) / 32;
  const BlockProblem<T> bp(p, bh_offset, BM, BN);
  const int bh = bh_offset + blockIdx.y, b = bh / p.heads, h = bh % p.heads;
  const int N = bp.N, n_tiles = bp.n_tiles;
  // (head, batch) coordinates of this block's q rows and k rows in their tensor maps; v's are (h, b).
  const bool k_fused = fused.block_len > 0, q_per_head = k_fused || fused.q_per_head;
  const int q_head = q_per_head ? 0 : h, q_batch = q_per_head ? bh : b;
  const int k_head = k_fused ? min(bp.q_row0 / max(fused.block_len, 1), fused.nblocks - 1) : h;
  const int k_batch = k_fused ? bh : b;

  auto load_tile = [&](int t) {  // K_t, V_t into stage t % S once tile t - S has been released
    const int stage = t % S;
    if (t >= S) tma::wait(empty(stage), (t / S - 1) & 1);
    tma::arrive_expect_bytes(full(stage), Cfg::kStageBytes);
#pragma unroll
    for (int sub = 0; sub < kQKSub; ++sub)
      tma::load_box(k_tile(stage) + sub * BN * wgmma::kSwizzleRowBytes, &maps.k, full(stage), 64 * sub, t * BN,
                    k_head, k_batch);
#pragma unroll
    for (int sub = 0; sub < kVSub; ++sub)
      tma::load_box(v_tile(stage) + sub * BN * wgmma::kSwizzleRowBytes, &maps.v, full(stage), 64 * sub, t * BN, h, b);
  };
  if (tid == 0) {
    tma::barrier_init(q_landed, 1);
    for (int s = 0; s < S; ++s) {
      tma::barrier_init(full(s), 1);
      tma::barrier_init(empty(s), kConsumerWarps);
    }
    tma::barrier_init_fence();
  }
  __syncthreads();
  wait_then_release_next_kernel();  // q, k, v are the previous kernels' output
  const int copier = Cfg::kProducerWarp ? Cfg::kConsumers : 0;  // the thread that issues the copies
  if constexpr (Cfg::kShareRegisters)
    if (tid >= Cfg::kConsumers) ptx::setmaxnreg_dec<Cfg::kProducerRegisters>();
  if (tid == copier) {
    tma::arrive_expect_bytes(q_landed, Cfg::kQCopyBytes);
#pragma unroll
    for (int sub = 0; sub < kQKSub; ++sub)
      tma::load_box(sQ + sub * BM * wgmma::kSwizzleRowBytes, &maps.q, q_landed, 64 * sub, bp.q_row0, q_head,
                    q_batch);
    for (int t = 0; t < (Cfg::kProducerWarp ? n_tiles : S - 2) && t < n_tiles; ++t) load_tile(t);
  }
  if (Cfg::kProducerWarp && tid >= Cfg::kConsumers) return;
  if constexpr (Cfg::kShareRegisters) ptx::setmaxnreg_inc<Cfg::kConsumerRegisters>();
  __syncwarp();
  if constexpr (Cfg::kPingPong)
    if (wg == W - 1) tma::named_arrive(kTurn0, 256);  // warpgroup 0 goes first
  tma::wait(q_landed, 0);

  Rows<T, Cfg> rows;
  rows.init();
  const uint32_t q_rows = sQ + wg * 64 * wgmma::kSwizzleRowBytes;
  auto tile_step = [&](const int j, auto first, auto last) {
    constexpr bool kFirst = decltype(first)::value, kLast = decltype(last)::value;
    const int stage = j % S;
    tma::wait(full(stage), (j / S) & 1);
    if constexpr (Cfg::kPingPong) tma::named_sync(kTurn0 + wg, 256);
    wgmma::fence();
    rows.issue_s(q_rows, k_tile(stage));
    if constexpr (!kFirst) rows.issue_pv(v_tile((j - 1) % S));
    if constexpr (Cfg::kPingPong) tma::named_arrive(kTurn0 + (wg + 1) % W, 256);
    rows.template finish_tile<kFirst, kLast>(j * BN, lane, N, scale_log2);
    if constexpr (!kFirst) {
      __syncwarp();
      if (lane == 0) tma::arrive(empty((j - 1) % S));  // this warp is done with tile j - 1
    }
    if constexpr (!Cfg::kProducerWarp) {
      if (tid == 0 && j + S - 2 < n_tiles) load_tile(j + S - 2);
      __syncwarp();
    }
    rows.pack_p();
  };
  for_each_key_tile(n_tiles, tile_step);
  wgmma::fence();
  rows.issue_pv(v_tile((n_tiles - 1) % S));
  wgmma::wait_group<0>();
  rows.pv_landed();
  if constexpr (Cfg::kPingPong)
    if (wg == 0) tma::named_sync(kTurn0, 256);  // the last warpgroup's last turn hand-over
  asm volatile("bar.sync %0, 128;\n" ::"r"(1 + wg) : "memory");  // the warpgroup's S products are all done
  rows.store(smem_raw + (sQ - raw), wg, warp_in_wg, lane, bp.out, bp.out_token_stride, bp.q_row0, N);
#else
  __trap();  // built without sm_90a: the host never launches this (hopper::available())
#endif
}

template <typename T, typename Cfg>
void launch_tma_maps(const QkvMaps& maps, const AttentionDeviceParams& p, const FusedQK& fused, cudaStream_t stream) {
  constexpr auto kernel = hopper_tma_kernel<T, Cfg>;
  allow_dynamic_smem<kernel>(Cfg::kSmemBytes);
  const float scale_log2 = p.scale * 1.4426950408889634f;
  const int m_blocks = (p.tokens + Cfg::kBlockM - 1) / Cfg::kBlockM;
  for_each_head_chunk(p.batch * p.heads, [&](int bh0, int heads) {
    launch_dependent(kernel, dim3(m_blocks, heads), Cfg::kThreads, Cfg::kSmemBytes, stream, maps, p, fused, bh0,
                     scale_log2);
  });
}

// Exact attention on p's views; false (nothing launched) where they can't be tensor-mapped.
template <typename T, typename Cfg>
bool launch_tma(const AttentionDeviceParams& p, cudaStream_t stream) {
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  QkvMaps maps;
  auto encode = [&](CUtensorMap& map, const void* base, int box_rows) {
    return tma::encode_view(map, kBf16, base, p.head_dim, p.tokens, p.heads, p.batch, p.qkv_token_stride,
                            p.qkv_head_stride, p.qkv_batch_stride, box_rows);
  };
  if (!encode(maps.q, p.q, Cfg::kBlockM) || !encode(maps.k, p.k, Cfg::kBlockN) || !encode(maps.v, p.v, Cfg::kBlockN))
    return false;
  launch_tma_maps<T, Cfg>(maps, p, FusedQK{}, stream);
  return true;
}

// DistrAttention on Q~ [B*H][N][64] and K~ [B*H][nblocks][N][64] (zeros past the fused width) and p's v view;
// false (nothing launched) where v can't be tensor-mapped.
template <typename T, typename Cfg>
bool launch_tma_fused(const AttentionDeviceParams& p, const T* q_fused, const T* k_fused, int block_len, int nblocks,
                      cudaStream_t stream) {
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  const int N = p.tokens, bh_total = p.batch * p.heads;
  QkvMaps maps;
  if (!tma::encode_view(maps.v, kBf16, p.v, p.head_dim, N, p.heads, p.batch, p.qkv_token_stride, p.qkv_head_stride,
                        p.qkv_batch_stride, Cfg::kBlockN) ||
      !tma::encode_view(maps.q, kBf16, q_fused, 64, N, 1, bh_total, 64, int64_t(N) * 64, int64_t(N) * 64,
                        Cfg::kBlockM) ||
      !tma::encode_view(maps.k, kBf16, k_fused, 64, N, nblocks, bh_total, 64, int64_t(N) * 64,
                        int64_t(nblocks) * N * 64, Cfg::kBlockN))
    return false;
  launch_tma_maps<T, Cfg>(maps, p, FusedQK{block_len, nblocks}, stream);
  return true;
}

// Exact attention with q replaced by q_rows [B*H][N][D] (DistrAttention's Q' = Q~ S^T) and p's k, v views; false
// (nothing launched) where they can't be tensor-mapped.
template <typename T, typename Cfg>
bool launch_tma_q(const AttentionDeviceParams& p, const T* q_rows, cudaStream_t stream) {
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  const int N = p.tokens, D = p.head_dim;
  QkvMaps maps;
  auto encode = [&](CUtensorMap& map, const void* base, int box_rows) {
    return tma::encode_view(map, kBf16, base, D, N, p.heads, p.batch, p.qkv_token_stride, p.qkv_head_stride,
                            p.qkv_batch_stride, box_rows);
  };
  if (!encode(maps.k, p.k, Cfg::kBlockN) || !encode(maps.v, p.v, Cfg::kBlockN) ||
      !tma::encode_view(maps.q, kBf16, q_rows, D, N, 1, p.batch * p.heads, D, int64_t(N) * D, int64_t(N) * D,
                        Cfg::kBlockM))
    return false;
  FusedQK fused;
  fused.q_per_head = true;
  launch_tma_maps<T, Cfg>(maps, p, fused, stream);
  return true;
}

}  // namespace distrvit::cuda::hopper
