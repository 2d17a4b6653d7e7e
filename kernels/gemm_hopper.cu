// The forward's biased products on wgmma, fed by TMA (gemm_hopper.h).
//
// One thread block per [BM x BN] tile of d, BM = 64 per consumer warpgroup. A producer warp streams the k-slabs
// a[m0 : m0 + BM, 64 kt : 64 kt + 64] and w[n0 : n0 + BN, same columns] into a kStages-deep ring of SW128 tiles
// (wgmma.cuh), tracked by a "full" and an "empty" mbarrier per stage. Each consumer warpgroup multiplies its 64 rows
// by the slab (4 wgmma k-steps of 16, both operands K-major from shared memory), keeps one slab's products in flight
// and releases the slab before, then adds the bias, applies the epilogue in fp32 and stores d once. Rows past m and
// w rows past n arrive from TMA as zeros and are never stored.
//
// With a normalised a (GemmNormA; one consumer warpgroup, BM = 64) the producer streams only w. Meanwhile the
// consumers read their 64 rows of the float32 residual x, a few rows per warp in flight at a time, take each row's
// LayerNorm in registers (two passes, as layernorm.cu) and store every slab of a, in the working precision, into
// shared memory in the SW128 layout TMA would have written. A fence hands those stores to the async proxy that
// wgmma reads through.
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
constexpr int kNormMaxK = 1024;  // normalised a: every slab stays in shared memory
constexpr size_t kNormMaxSmem = 200 * 1024;  // covers norm_smem_bytes at kNormMaxK (193 KB), under 9.0's 227 KB

template <int kConsumers_, int kBlockN_, int kStages_>
struct GemmConfig {
  static constexpr int kConsumers = kConsumers_;
  static constexpr int kBlockM = 64 * kConsumers;
  static constexpr int kBlockN = kBlockN_;
  static constexpr int kStages = kStages_;
  static constexpr int kThreads = 128 * kConsumers + 32;  // the consumer warpgroups, then the producer warp
  static constexpr uint32_t kATileBytes = kBlockM * wgmma::kSwizzleRowBytes;
  static constexpr uint32_t kWTileBytes = kBlockN * wgmma::kSwizzleRowBytes;
  static constexpr uint32_t kStageBytes = kATileBytes + kWTileBytes;
  static constexpr size_t kSmemBytes = kStages * kStageBytes + wgmma::kSwizzleAtomBytes;
  // Normalised a: [k_slabs] a tiles, then a ring of w tiles.
  static size_t norm_smem_bytes(int k_slabs) {
    return size_t(k_slabs) * kATileBytes + kStages * kWTileBytes + wgmma::kSwizzleAtomBytes;
  }
};

enum class Epilogue { kBias, kBiasGelu, kBiasResidual };

struct GemmMaps {
  CUtensorMap a, w;  // a: boxes of [BM rows x 64], w: [BN rows x 64]; a unused with a normalised a
};

struct NormArgs {
  const float* x;  // [m, k], row stride ldx
  int64_t ldx;
  const float* gamma;  // [k]
  const float* beta;   // [k]
  float eps;
  int k;
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

template <typename T>
__device__ __forceinline__ uint32_t pair_bits(float a, float b) {
  const typename Pair<T>::type pair = Pair<T>::from_float2(make_float2(a, b));
  return *reinterpret_cast<const uint32_t*>(&pair);
}

// a = LN(x) * gamma + beta for rows m0 .. m0 + 63 of x into `a_tiles` (generic pointer to the first of k / 64 SW128
// tiles of 64 rows), by the 4 warps of one warpgroup: warp w takes rows 16 w .. 16 w + 15, kRows at a time, each
// row as kIters float4 per lane (columns 4 (lane + 32 it)). The kRows rows' loads and warp reductions are issued
// together, so their latencies overlap. Rows past m are stored as zeros.
template <typename T, int kIters>
__device__ __forceinline__ void normalize_rows(const NormArgs& norm, unsigned char* a_tiles, int m0, int m, int warp,
                                               int lane) {
  constexpr int kRows = kIters <= 2 ? 16 : kIters <= 4 ? 8 : 4;  // at most 32 float4 of x per lane in flight
  const int k = norm.k;
  for (int r0 = 16 * warp; r0 < 16 * warp + 16; r0 += kRows) {
    float4 v[kRows][kIters];
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const int row = m0 + r0 + i;
#pragma unroll
      for (int it = 0; it < kIters; ++it) {
        const int c = 4 * (lane + 32 * it);
        v[i][it] = row < m && c < k ? *reinterpret_cast<const float4*>(norm.x + int64_t(row) * norm.ldx + c)
                                    : make_float4(0, 0, 0, 0);
      }
    }
    float mean[kRows], rstd[kRows];
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      mean[i] = 0.0f;
#pragma unroll
      for (int it = 0; it < kIters; ++it) mean[i] += (v[i][it].x + v[i][it].y) + (v[i][it].z + v[i][it].w);
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
#pragma unroll
      for (int i = 0; i < kRows; ++i) mean[i] += __shfl_xor_sync(0xffffffffu, mean[i], offset);
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      mean[i] /= k;
      rstd[i] = 0.0f;
#pragma unroll
      for (int it = 0; it < kIters; ++it) {
        if (4 * (lane + 32 * it) >= k) continue;
        const float dx = v[i][it].x - mean[i], dy = v[i][it].y - mean[i], dz = v[i][it].z - mean[i],
                    dw = v[i][it].w - mean[i];
        rstd[i] += dx * dx + dy * dy + dz * dz + dw * dw;
      }
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
#pragma unroll
      for (int i = 0; i < kRows; ++i) rstd[i] += __shfl_xor_sync(0xffffffffu, rstd[i], offset);
#pragma unroll
    for (int i = 0; i < kRows; ++i) rstd[i] = rsqrtf(rstd[i] / k + norm.eps);
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int c = 4 * (lane + 32 * it);
      if (c >= k) continue;
      const float4 g = *reinterpret_cast<const float4*>(norm.gamma + c);
      const float4 b = *reinterpret_cast<const float4*>(norm.beta + c);
#pragma unroll
      for (int i = 0; i < kRows; ++i) {
        const int r = r0 + i;
        const float4 x = v[i][it];
        uint2 bits = make_uint2(0, 0);
        if (m0 + r < m) {
          bits.x = pair_bits<T>((x.x - mean[i]) * rstd[i] * g.x + b.x, (x.y - mean[i]) * rstd[i] * g.y + b.y);
          bits.y = pair_bits<T>((x.z - mean[i]) * rstd[i] * g.z + b.z, (x.w - mean[i]) * rstd[i] * g.w + b.w);
        }
        *reinterpret_cast<uint2*>(a_tiles + wgmma::sw128_offset(r, c, 64)) = bits;
      }
    }
  }
}

// kNormIters > 0: a is LN(x) (NormArgs), with ceil(k / 128) = kNormIters float4 of a row per lane.
template <typename T, typename Cfg, Epilogue kEpi, int kNormIters>
__global__ void __launch_bounds__(Cfg::kThreads)
    gemm_bias_kernel(const __grid_constant__ GemmMaps maps, const T* __restrict__ bias, void* __restrict__ d, int m,
                     int n, int k_slabs, int64_t ldd, const NormArgs norm) {
#if defined(DISTRVIT_HAS_WGMMA)
  constexpr bool kNormA = kNormIters > 0;
  static_assert(!kNormA || Cfg::kConsumers == 1, "a normalised a is built by one warpgroup");
  constexpr int BM = Cfg::kBlockM, BN = Cfg::kBlockN, S = Cfg::kStages;
  constexpr int kConsumerThreads = 128 * Cfg::kConsumers;
  extern __shared__ unsigned char smem_raw[];
  __shared__ __align__(8) uint64_t barriers[2 * S];  // per stage: full, empty
  // kNormA: [k_slabs] a tiles [BM][128 B], then [S] w tiles [BN][128 B]; else [S] x { a [BM][128 B], w [BN][128 B] }
  const uint32_t tiles = wgmma::align_1024(ptx::smem_addr(smem_raw));
  auto a_tile = [&](int kt) {
    return kNormA ? tiles + kt * Cfg::kATileBytes : tiles + (kt % S) * Cfg::kStageBytes;
  };
  auto w_tile = [&](int kt) {
    return kNormA ? tiles + k_slabs * Cfg::kATileBytes + (kt % S) * Cfg::kWTileBytes
                  : tiles + (kt % S) * Cfg::kStageBytes + Cfg::kATileBytes;
  };
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
  wait_then_release_next_kernel();  // a (or x) is the previous kernel's output

  if (tid >= kConsumerThreads) {  // the producer warp: one lane issues every copy
    if (tid == kConsumerThreads) {
      for (int kt = 0; kt < k_slabs; ++kt) {
        const int stage = kt % S;
        if (kt >= S) tma::wait(empty(stage), (kt / S - 1) & 1);
        tma::arrive_expect_bytes(full(stage), kNormA ? Cfg::kWTileBytes : Cfg::kStageBytes);
        if (!kNormA) tma::load_box(a_tile(kt), &maps.a, full(stage), kt * kSlabCols, m0, 0, 0);
        tma::load_box(w_tile(kt), &maps.w, full(stage), kt * kSlabCols, n0, 0, 0);
      }
    }
    return;
  }

  const int wg = tid / 128, warp = (tid % 128) / 32, lane = tid % 32;
  if constexpr (kNormA) {
    normalize_rows<T, (kNormIters > 0 ? kNormIters : 1)>(norm, smem_raw + (tiles - ptx::smem_addr(smem_raw)), m0, m,
                                                          warp, lane);
    wgmma::fence_proxy_async();  // the stores above, visible to wgmma
    tma::named_sync(1, kConsumerThreads);
  }
  const uint32_t a_rows = wg * 64 * wgmma::kSwizzleRowBytes;  // this warpgroup's 64 rows inside the a tile
  float acc[BN / 2];  // [64 x BN] of the warpgroup, wgmma accumulator layout (wgmma.cuh)
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;
  for (int kt = 0; kt < k_slabs; ++kt) {
    const int stage = kt % S;
    tma::wait(full(stage), (kt / S) & 1);
    wgmma::fence();
#pragma unroll
    for (int ks = 0; ks < kSlabCols / 16; ++ks) {
      const uint32_t col_bytes = ks * 16 * 2;
      const uint64_t desc_a = wgmma::sw128_descriptor(a_tile(kt) + a_rows + col_bytes, 16, wgmma::kSwizzleAtomBytes);
      const uint64_t desc_w = wgmma::sw128_descriptor(w_tile(kt) + col_bytes, 16, wgmma::kSwizzleAtomBytes);
      wgmma::mma_ss<T, BN>(acc, desc_a, desc_w, 1);
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
      if (row >= m) continue;
      float2 v = make_float2(acc[4 * i + 2 * half] + b.x, acc[4 * i + 2 * half + 1] + b.y);
      if constexpr (kEpi == Epilogue::kBiasGelu) v = make_float2(gelu_erf(v.x), gelu_erf(v.y));
      if constexpr (kEpi == Epilogue::kBiasResidual) {  // d: the float32 residual stream, updated in place
        float2* x = reinterpret_cast<float2*>(static_cast<float*>(d) + int64_t(row) * ldd + col);
        const float2 old = *x;
        *x = make_float2(old.x + v.x, old.y + v.y);
      } else {
        *reinterpret_cast<typename P::type*>(static_cast<T*>(d) + int64_t(row) * ldd + col) = P::from_float2(v);
      }
    }
  }
#else
  __trap();  // built without sm_90a: the host never launches this (gemm_hopper_available)
#endif
}

template <typename T, typename Cfg, Epilogue kEpi, int kNormIters>
bool launch(const GemmParams& p, const NormArgs& norm, cudaStream_t stream) {
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  constexpr bool kNormA = kNormIters > 0;
  GemmMaps maps{};
  // Each matrix as a one-head, one-batch view: rows of k elements, row stride lda / ldw.
  if ((!kNormA && !tma::encode_view(maps.a, kBf16, p.a, p.k, p.m, 1, 1, p.lda, 0, 0, Cfg::kBlockM)) ||
      !tma::encode_view(maps.w, kBf16, p.w, p.k, p.n, 1, 1, p.ldw, 0, 0, Cfg::kBlockN))
    return false;
  constexpr auto kernel = gemm_bias_kernel<T, Cfg, kEpi, kNormIters>;
  const int k_slabs = p.k / kSlabCols;
  const size_t smem = kNormA ? Cfg::norm_smem_bytes(k_slabs) : Cfg::kSmemBytes;
  allow_dynamic_smem<kernel>(kNormA ? kNormMaxSmem : Cfg::kSmemBytes);
  const dim3 grid((p.n + Cfg::kBlockN - 1) / Cfg::kBlockN, (p.m + Cfg::kBlockM - 1) / Cfg::kBlockM);
  launch_dependent(kernel, grid, Cfg::kThreads, smem, stream, maps, static_cast<const T*>(p.bias), p.d, p.m, p.n,
                   k_slabs, p.ldd, norm);
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

int64_t tile_count(const GemmParams& p, int bm, int bn) {
  return int64_t((p.m + bm - 1) / bm) * ((p.n + bn - 1) / bn);
}

// Tiles of 128 x 128 where they fill the GPU; 64-row tiles, then 64 x 64, where fewer would leave SMs idle.
template <typename T, Epilogue kEpi>
bool dispatch(const GemmParams& p, cudaStream_t stream) {
  const NormArgs none{};
  if (tile_count(p, 128, 128) >= sm_count()) return launch<T, GemmConfig<2, 128, 3>, kEpi, 0>(p, none, stream);
  if (tile_count(p, 64, 128) >= sm_count() / 2) return launch<T, GemmConfig<1, 128, 4>, kEpi, 0>(p, none, stream);
  return launch<T, GemmConfig<1, 64, 4>, kEpi, 0>(p, none, stream);
}

// 64-row tiles only (one warpgroup builds a); the row length picks the registers per lane.
template <typename T, Epilogue kEpi, int kNormIters>
bool dispatch_norm_tiles(const GemmParams& p, const NormArgs& norm, cudaStream_t stream) {
  if (tile_count(p, 64, 128) >= sm_count() / 2)
    return launch<T, GemmConfig<1, 128, 4>, kEpi, kNormIters>(p, norm, stream);
  return launch<T, GemmConfig<1, 64, 4>, kEpi, kNormIters>(p, norm, stream);
}

template <typename T, Epilogue kEpi>
bool dispatch_norm(const GemmParams& p, const NormArgs& norm, cudaStream_t stream) {
  const int iters = (p.k + 127) / 128;  // float4 of a row per lane
  if (iters <= 2) return dispatch_norm_tiles<T, kEpi, 2>(p, norm, stream);
  if (iters <= 4) return dispatch_norm_tiles<T, kEpi, 4>(p, norm, stream);
  if (iters <= 6) return dispatch_norm_tiles<T, kEpi, 6>(p, norm, stream);
  return dispatch_norm_tiles<T, kEpi, 8>(p, norm, stream);  // k <= kNormMaxK
}

bool aligned(const void* ptr, size_t bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; }

bool sixteen_bit(DataType t) { return t == DataType::F16 || t == DataType::BF16; }

// What every product here needs: 16-bit a / w, alpha 1, a bias, k in whole slabs, n in pairs of 8-column groups,
// TMA-able rows of w.
bool common_fits(const GemmParams& p) {
  return gemm_hopper_available() && sixteen_bit(p.ab_type) && p.alpha == 1.0f && p.bias && p.m > 0 && p.n > 0 &&
         p.k > 0 && p.k % kSlabCols == 0 && p.n % 8 == 0 && p.ldw % 8 == 0 && p.ldd % 2 == 0 && p.ldd >= p.n &&
         (p.m + 63) / 64 <= 65535 && aligned(p.w, 16) && aligned(p.bias, 4);
}

// The output: d of ab_type for Bias / BiasGeluErf, the float32 residual for BiasResidual.
bool output_fits(const GemmParams& p) {
  switch (p.epilogue) {
    case GemmEpilogue::Bias:
    case GemmEpilogue::BiasGeluErf: return p.d_type == p.ab_type && aligned(p.d, 4);
    case GemmEpilogue::BiasResidual: return p.d_type == DataType::F32 && aligned(p.d, 8);
    default: return false;
  }
}

template <typename T>
bool run_typed(const GemmParams& p, cudaStream_t stream) {
  switch (p.epilogue) {
    case GemmEpilogue::BiasGeluErf: return dispatch<T, Epilogue::kBiasGelu>(p, stream);
    case GemmEpilogue::BiasResidual: return dispatch<T, Epilogue::kBiasResidual>(p, stream);
    default: return dispatch<T, Epilogue::kBias>(p, stream);
  }
}

template <typename T>
bool run_norm_typed(const GemmParams& p, const NormArgs& norm, cudaStream_t stream) {
  return p.epilogue == GemmEpilogue::BiasGeluErf ? dispatch_norm<T, Epilogue::kBiasGelu>(p, norm, stream)
                                                 : dispatch_norm<T, Epilogue::kBias>(p, norm, stream);
}

}  // namespace

bool gemm_hopper_available() { return hopper::available(); }

bool gemm_bias_hopper_fits(const GemmParams& params) {
  const GemmParams p = with_default_strides(params);
  return common_fits(p) && output_fits(p) && p.lda % 8 == 0 && aligned(p.a, 16);
}

bool gemm_bias_hopper(const GemmParams& params, cudaStream_t stream) {
  if (!gemm_bias_hopper_fits(params)) return false;
  const GemmParams p = with_default_strides(params);
  return p.ab_type == DataType::F16 ? run_typed<__half>(p, stream) : run_typed<__nv_bfloat16>(p, stream);
}

bool gemm_norm_hopper_fits(const GemmParams& params, const GemmNormA& norm) {
  const GemmParams p = with_default_strides(params);
  const int64_t ldx = norm.ldx ? norm.ldx : p.k;
  return common_fits(p) && output_fits(p) && p.epilogue != GemmEpilogue::BiasResidual && p.k <= kNormMaxK && norm.x &&
         norm.gamma && norm.beta &&
         ldx % 4 == 0 && aligned(norm.x, 16) && aligned(norm.gamma, 16) && aligned(norm.beta, 16);
}

bool gemm_norm_hopper(const GemmParams& params, const GemmNormA& norm, cudaStream_t stream) {
  if (!gemm_norm_hopper_fits(params, norm)) return false;
  const GemmParams p = with_default_strides(params);
  const NormArgs args{norm.x, norm.ldx ? norm.ldx : p.k, norm.gamma, norm.beta, norm.eps, p.k};
  return p.ab_type == DataType::F16 ? run_norm_typed<__half>(p, args, stream)
                                    : run_norm_typed<__nv_bfloat16>(p, args, stream);
}

}  // namespace distrvit::cuda
