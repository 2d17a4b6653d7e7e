// The Hopper exact-attention variants (attention_hopper.cuh: lockstep cp.async feeding; attention_hopper_tma.cuh:
// TMA-fed ring) and the run-time choice among them. Included only by attention_hopper_<dtype>.cu; variant names in
// attention_exact.cu (hopper::variant_name).
#pragma once
#include "attention_hopper.cuh"
#include "attention_hopper_tma.cuh"

namespace distrvit::cuda::hopper {

// Config<D, QK, warpgroups, keys per tile, min blocks per SM>; TmaConfig<D, QK, keys per tile, stages, ping-pong,
// producer threads, min blocks per SM, consumer warpgroups>. The variants measured and dropped (other tile shapes,
// warpgroup counts and softmax schemes), each with its numbers, are in BENCHMARKS.md: "Hopper exact kernel
// (wgmma)" and the H200 sections after it; grep it for a scheme before trying it again.
template <int kHeadDim, int kQKDim>
struct Variants {
  static constexpr int kBlocksPerSm = kHeadDim == 64 ? 2 : 1;
  using V0 = Config<kHeadDim, kQKDim, 2, 64, kBlocksPerSm>;  // 128 rows, 64-key tiles
  using V1 = Config<kHeadDim, kQKDim, 2, 128>;  // 128 rows, 128-key tiles: 1 block/SM, 3-20 % slower
  // TMA-fed, with ping-pong: copies issued by thread 0 between its tile steps, 64-key tiles; copies from a producer
  // warp, 128-key tiles at d = 64 (64 at d = 128: 168 registers at most).
  using V2 = TmaConfig<kHeadDim, kQKDim, 64, 4, true, 0, kBlocksPerSm>;
  using V3 = TmaConfig<kHeadDim, kQKDim, kHeadDim == 64 ? 128 : 64, 4, true, 32>;
  // A producer warpgroup that hands its registers to the consumers (setmaxnreg): 128-key tiles at either width, as
  // many stages (<= 4) as fit in 227 KB of shared memory.
  using V4Base = Config<kHeadDim, kQKDim, 2, 128>;
  static constexpr int kV4Stages = std::min<int>(
      4, (227 * 1024 - V4Base::kQBytes - wgmma::kSwizzleAtomBytes) / (V4Base::kKBytes + V4Base::kVBytes));
  using V4 = TmaConfig<kHeadDim, kQKDim, 128, kV4Stages, true, 128>;
  // Three consumer warpgroups (192 rows) taking turns, and a producer warpgroup: 160 registers each, so 64-key
  // tiles at d = 128.
  using V5 = TmaConfig<kHeadDim, kQKDim, kHeadDim == 64 ? 128 : 64, 4, true, 128, 1, 3>;
  // The TMA kernels where they were faster (BENCHMARKS.md, "TMA-fed" and "producer warpgroup"): two consumer
  // warpgroups and a producer one at d = 128, three for long sequences at d = 64, else 64-key tiles from thread 0.
  static int pick(const AttentionDeviceParams& p) {
    if (kHeadDim == 128) return 4;
    return p.tokens >= 2048 ? 5 : 2;
  }
  // For DistrAttention's K~ per l-block (prefused path): a 192-row block could straddle two l-blocks.
  static int pick_fused(const AttentionDeviceParams& p, int nblocks) {
    const int v = pick(p);
    return v == 5 && nblocks > 1 ? 4 : v;
  }
};

// fn(Cfg{}) for a TMA variant that pick / pick_fused return (4, 5, else 2): only these are compiled for callers
// that never take a fixed variant (DistrAttention's paths).
template <typename Vs, typename Fn>
bool with_picked_variant(int variant, const Fn& fn) {
  if (variant == 5) return fn(typename Vs::V5{});
  if (variant == 4) return fn(typename Vs::V4{});
  return fn(typename Vs::V2{});
}
// fn(Cfg{}) for any TMA variant (3, 4, 5, else 2).
template <typename Vs, typename Fn>
bool with_tma_variant(int variant, const Fn& fn) {
  if (variant == 3) return fn(typename Vs::V3{});
  return with_picked_variant<Vs>(variant, fn);
}

template <typename T, int kHeadDim, int kQKDim>
void run_hopper_attention(const AttentionDeviceParams& p, int variant, cudaStream_t stream) {
  using Vs = Variants<kHeadDim, kQKDim>;
  const int v = variant < 0 ? Vs::pick(p) : variant;
  if (v == 1) return launch<T, typename Vs::V1>(p, stream);
  if (v >= 2 && with_tma_variant<Vs>(v, [&](auto cfg) { return launch_tma<T, decltype(cfg)>(p, stream); })) return;
  launch<T, typename Vs::V0>(p, stream);
}
template <typename T, int kHeadDim, int kQKDim>
int pick_hopper_variant(const AttentionDeviceParams& p) {
  return Variants<kHeadDim, kQKDim>::pick(p);
}

}  // namespace distrvit::cuda::hopper
