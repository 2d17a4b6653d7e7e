// The Hopper exact-attention variants (attention_hopper.cuh: lockstep cp.async feeding; attention_hopper_tma.cuh:
// TMA-fed ring) and the run-time choice among them. Included only by attention_hopper_<dtype>.cu; variant names in
// attention_exact.cu (hopper::variant_name).
#pragma once
#include "attention_hopper.cuh"
#include "attention_hopper_tma.cuh"

namespace distrvit::cuda::hopper {

// Config<D, QK, warpgroups, keys per tile, min blocks per SM>; TmaConfig<D, QK, keys per tile, stages, ping-pong,
// producer warp, min blocks per SM>. Measured on an H100 and dropped (BENCHMARKS.md): 3 warpgroups; 1 warpgroup
// with 128-key tiles; two blocks per SM forced at d = 128 (spills: 1.3x slower); a quarter or half of the exp2s on
// the FMA units as a polynomial (5-15 % slower); a producer warpgroup feeding 2-4 stages through cp.async +
// mbarriers with setmaxnreg (5-25 % slower: ptxas still capped the consumers). Measured on an H200 and dropped:
// TMA without ping-pong; a producer warp with 128-key tiles at d = 128 (needs more than the 168 registers a
// nine-warp block gets).
template <int kHeadDim, int kQKDim>
struct Variants {
  static constexpr int kBlocksPerSm = kHeadDim == 64 ? 2 : 1;
  using V0 = Config<kHeadDim, kQKDim, 2, 64, kBlocksPerSm>;  // 128 rows, 64-key tiles
  using V1 = Config<kHeadDim, kQKDim, 2, 128>;  // 128 rows, 128-key tiles: 1 block/SM, 3-20 % slower
  // TMA-fed, with ping-pong: copies issued by thread 0 between its tile steps, 64-key tiles; copies from a producer
  // warp, 128-key tiles at d = 64 (64 at d = 128: 168 registers at most).
  using V2 = TmaConfig<kHeadDim, kQKDim, 64, 4, true, false, kBlocksPerSm>;
  using V3 = TmaConfig<kHeadDim, kQKDim, kHeadDim == 64 ? 128 : 64, 4, true, true>;
  // The TMA kernels where they were faster (BENCHMARKS.md, "TMA-fed"): the producer warp at d = 128 and for long
  // sequences at d = 64, else 64-key tiles from thread 0.
  static int pick(const AttentionDeviceParams& p) { return kHeadDim == 128 || p.tokens >= 2048 ? 3 : 2; }
};

template <typename T, int kHeadDim, int kQKDim>
void run_hopper_attention(const AttentionDeviceParams& p, int variant, cudaStream_t stream) {
  using Vs = Variants<kHeadDim, kQKDim>;
  switch (variant < 0 ? Vs::pick(p) : variant) {
    case 1: return launch<T, typename Vs::V1>(p, stream);
    case 2:
      if (launch_tma<T, typename Vs::V2>(p, stream)) return;
      break;
    case 3:
      if (launch_tma<T, typename Vs::V3>(p, stream)) return;
      break;
    default: break;
  }
  launch<T, typename Vs::V0>(p, stream);
}
template <typename T, int kHeadDim, int kQKDim>
int pick_hopper_variant(const AttentionDeviceParams& p) {
  return Variants<kHeadDim, kQKDim>::pick(p);
}

}  // namespace distrvit::cuda::hopper
