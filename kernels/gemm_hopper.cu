// d = a w^T + bias, or gelu_erf of it, on wgmma, fed by TMA (gemm_hopper.h).
//
// One thread block per [BM x BN] tile of d, BM = 64 per consumer warpgroup. A producer warp streams the k-slabs
// a[m0 : m0 + BM, 64 kt : 64 kt + 64] and w[n0 : n0 + BN, same columns] into a kStages-deep ring of SW128 tiles
// (wgmma.cuh), tracked by a "full" and an "empty" mbarrier per stage. Each consumer warpgroup multiplies its 64 rows
// by the slab (4 wgmma k-steps of 16, both operands K-major from shared memory), keeps one slab's products in flight
// and releases the slab before, then adds the bias, applies the GELU (if asked) in fp32 and stores d once. Rows past
// m and w rows past n arrive from TMA as zeros and are never stored.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "attention_common.cuh"  // allow_dynamic_smem, ptx::smem_addr, hopper::available
#include "dtype_util.cuh"
#include "gemm_hopper.h"
#include "pdl.cuh"
#include "tma.cuh"
#include "wgmma.cuh"

namespace distrvit::cuda {
namespace {

constexpr int kSlabCols = 64;  // k columns per stage: one 128-byte SW128 row

template <int kConsumers_, int kBlockN_, int kStages_>
struct GemmConfig {
  static constexpr int kConsumers = kConsumers_;
  static constexpr int kBlockM = 64 * kConsumers;
  static constexpr int kBlockN = kBlockN_;
  static constexpr int kStages = kStages_;
  static constexpr int kThreads = 128 * kConsumers + 32;  // the consumer warpgroups, then the producer warp
  static constexpr uint32_t kATileBytes = kBlockM * wgmma::kSwizzleRowBytes;
  static constexpr uint32_t kStageBytes = (kBlockM + kBlockN) * wgmma::kSwizzleRowBytes;
  static constexpr size_t kSmemBytes = kStages * kStageBytes + wgmma::kSwizzleAtomBytes;
};

struct GemmMaps {
  CUtensorMap a, w;  // a: boxes of [BM rows x 64], w: [BN rows x 64]
};

template <typename T>
struct Pair;
template <>
struct Pair<__half> {
  using type = __half2;
  static __device__ __forceinline__ float2 to_float2(type v) { return __half22float2(v); }
  static __device__ __forceinline__ type from_float2(float2 v) { return __float22half2_rn(v); }
};
template <>
struct Pair<__nv_bfloat16> {
  using type = __nv_bfloat162;
  static __device__ __forceinline__ float2 to_float2(type v) { return __bfloat1622float2(v); }
  static __device__ __forceinline__ type from_float2(float2 v) { return __float22bfloat162_rn(v); }
};

template <typename T, typename Cfg, bool kGelu>
__global__ void __launch_bounds__(Cfg::kThreads)
    gemm_bias_kernel(const __grid_constant__ GemmMaps maps, const T* __restrict__ bias, T* __restrict__ d, int m,
                     int n, int k_slabs, int64_t ldd) {
#if defined(DISTRVIT_HAS_WGMMA)
  constexpr int BM = Cfg::kBlockM, BN = Cfg::kBlockN, S = Cfg::kStages;
  constexpr int kConsumerThreads = 128 * Cfg::kConsumers;
  extern __shared__ unsigned char smem_raw[];
  __shared__ __align__(8) uint64_t barriers[2 * S];  // per stage: full, empty
  const uint32_t ring = wgmma::align_1024(ptx::smem_addr(smem_raw));  // [S] x { a [BM][128 B], w [BN][128 B] }
  auto a_tile = [&](int stage) { return ring + stage * Cfg::kStageBytes; };
  auto w_tile = [&](int stage) { return ring + stage * Cfg::kStageBytes + Cfg::kATileBytes; };
  auto full = [&](int stage) { return ptx::smem_addr(&barriers[stage]); };
  auto empty = [&](int stage) { return ptx::smem_addr(&barriers[S + stage]); };
  const int tid = threadIdx.x, m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;

  if (tid == 0) {
    for (int s = 0; s < S; ++s) {
      tma::barrier_init(full(s), 1);
      tma::barrier_init(empty(s), kConsumerThreads / 32);
    }
    tma::barrier_init_fence();
  }
  __syncthreads();
  wait_then_release_next_kernel();  // a is the previous kernel's output

  if (tid >= kConsumerThreads) {  // the producer warp: one lane issues every copy
    if (tid == kConsumerThreads) {
      for (int kt = 0; kt < k_slabs; ++kt) {
        const int stage = kt % S;
        if (kt >= S) tma::wait(empty(stage), (kt / S - 1) & 1);
        tma::arrive_expect_bytes(full(stage), Cfg::kStageBytes);
        tma::load_box(a_tile(stage), &maps.a, full(stage), kt * kSlabCols, m0, 0, 0);
        tma::load_box(w_tile(stage), &maps.w, full(stage), kt * kSlabCols, n0, 0, 0);
      }
    }
    return;
  }

  const int wg = tid / 128, warp = (tid % 128) / 32, lane = tid % 32;
  const uint32_t a_rows = wg * 64 * wgmma::kSwizzleRowBytes;  // this warpgroup's 64 rows inside the a tile
  float acc[BN / 2];  // [64 x BN] of the warpgroup, wgmma accumulator layout (wgmma.cuh)
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;
  for (int kt = 0; kt < k_slabs; ++kt) {
    const int stage = kt % S;
    tma::wait(full(stage), (kt / S) & 1);
    wgmma::fence();
    const uint64_t desc_a = wgmma::sw128_descriptor(a_tile(stage) + a_rows, 16, wgmma::kSwizzleAtomBytes);
    const uint64_t desc_w = wgmma::sw128_descriptor(w_tile(stage), 16, wgmma::kSwizzleAtomBytes);
#pragma unroll
    for (int ks = 0; ks < kSlabCols / 16; ++ks) {
      const uint32_t col_bytes = ks * 16 * 2;
      wgmma::mma_ss<T, BN>(acc, wgmma::descriptor_plus(desc_a, col_bytes), wgmma::descriptor_plus(desc_w, col_bytes),
                           1);
    }
    wgmma::commit_group();
    wgmma::wait_group<1>();  // slab kt - 1's products are done: its stage can be refilled
    if (kt > 0) {
      __syncwarp();
      if (lane == 0) tma::arrive(empty((kt - 1) % S));
    }
  }
  wgmma::wait_group<0>();
  wgmma::keep(acc);

  // Register 4 i + e: row 16 warp + lane / 4 + 8 (e / 2), column 8 i + 2 (lane % 4) + e % 2 of the warpgroup's tile.
  using P = Pair<T>;
  const int row0 = m0 + wg * 64 + warp * 16 + lane / 4;
#pragma unroll
  for (int i = 0; i < BN / 8; ++i) {
    const int col = n0 + 8 * i + 2 * (lane % 4);
    if (col >= n) break;  // n % 8 == 0: a pair is wholly inside or wholly past n
    const float2 b = P::to_float2(*reinterpret_cast<const typename P::type*>(bias + col));
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int row = row0 + 8 * half;
      if (row < m) {
        float2 v = make_float2(acc[4 * i + 2 * half] + b.x, acc[4 * i + 2 * half + 1] + b.y);
        if constexpr (kGelu) v = make_float2(gelu_erf(v.x), gelu_erf(v.y));
        *reinterpret_cast<typename P::type*>(d + int64_t(row) * ldd + col) = P::from_float2(v);
      }
    }
  }
#else
  __trap();  // built without sm_90a: the host never launches this (gemm_bias_hopper_fits)
#endif
}

template <typename T, typename Cfg, bool kGelu>
bool launch(const GemmParams& p, cudaStream_t stream) {
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  GemmMaps maps;
  // Each matrix as a one-head, one-batch view: rows of k elements, row stride lda / ldw.
  if (!tma::encode_view(maps.a, kBf16, p.a, p.k, p.m, 1, 1, p.lda, 0, 0, Cfg::kBlockM) ||
      !tma::encode_view(maps.w, kBf16, p.w, p.k, p.n, 1, 1, p.ldw, 0, 0, Cfg::kBlockN))
    return false;
  constexpr auto kernel = gemm_bias_kernel<T, Cfg, kGelu>;
  allow_dynamic_smem<kernel>(Cfg::kSmemBytes);
  const dim3 grid((p.n + Cfg::kBlockN - 1) / Cfg::kBlockN, (p.m + Cfg::kBlockM - 1) / Cfg::kBlockM);
  launch_dependent(kernel, grid, Cfg::kThreads, Cfg::kSmemBytes, stream, maps, static_cast<const T*>(p.bias),
                   static_cast<T*>(p.d), p.m, p.n, p.k / kSlabCols, p.ldd);
  return true;
}

int sm_count() {
  static const int count = [] {
    int device = 0, sms = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return sms;
  }();
  return count;
}

// Tiles of 128 x 128 where they fill the GPU; 64-row tiles, then 64 x 64, where fewer would leave SMs idle.
template <typename T, bool kGelu>
bool dispatch(const GemmParams& p, cudaStream_t stream) {
  const auto tiles = [&](int bm, int bn) { return int64_t((p.m + bm - 1) / bm) * ((p.n + bn - 1) / bn); };
  if (tiles(128, 128) >= sm_count()) return launch<T, GemmConfig<2, 128, 3>, kGelu>(p, stream);  // 2 blocks per SM
  if (tiles(64, 128) >= sm_count() / 2) return launch<T, GemmConfig<1, 128, 4>, kGelu>(p, stream);
  return launch<T, GemmConfig<1, 64, 4>, kGelu>(p, stream);
}

template <typename T>
bool dispatch_epilogue(const GemmParams& p, cudaStream_t stream) {
  return p.epilogue == GemmEpilogue::BiasGeluErf ? dispatch<T, true>(p, stream) : dispatch<T, false>(p, stream);
}

bool aligned(const void* ptr, size_t bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; }

}  // namespace

bool gemm_hopper_available() { return hopper::available(); }

bool gemm_bias_hopper_fits(const GemmParams& params) {
  const GemmParams p = with_default_strides(params);
  const bool sixteen_bit = p.ab_type == DataType::F16 || p.ab_type == DataType::BF16;
  const bool epilogue = p.epilogue == GemmEpilogue::Bias || p.epilogue == GemmEpilogue::BiasGeluErf;
  return gemm_hopper_available() && sixteen_bit && epilogue && p.d_type == p.ab_type && p.alpha == 1.0f && p.bias &&
         p.m > 0 && p.n > 0 && p.k > 0 && p.k % kSlabCols == 0 && p.n % 8 == 0 && p.lda % 8 == 0 && p.ldw % 8 == 0 &&
         p.ldd % 2 == 0 && p.ldd >= p.n && (p.m + 63) / 64 <= 65535 && aligned(p.a, 16) && aligned(p.w, 16) &&
         aligned(p.d, 4) && aligned(p.bias, 4);
}

bool gemm_bias_hopper(const GemmParams& params, cudaStream_t stream) {
  if (!gemm_bias_hopper_fits(params)) return false;
  const GemmParams p = with_default_strides(params);
  return p.ab_type == DataType::F16 ? dispatch_epilogue<__half>(p, stream)
                                    : dispatch_epilogue<__nv_bfloat16>(p, stream);
}

}  // namespace distrvit::cuda
