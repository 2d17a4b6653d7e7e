// Exact attention on the GPU: the run-time switch in front of the fused kernels, and a generic path.
//
// Versions:
//   generic  one warp per query row, online softmax over all keys in fp32, lanes split d (<= 256).
//            Any dtype (the F32 path), any strides or alignment. Simple and slow (a warp reduction per key).
//   fused    attention_exact.cuh (FlashAttention-2 style, mma.sync), fp16/bf16, head_dim 64 and 128,
//            16-byte aligned rows; one translation unit per (dtype, head_dim, q/k width): attention_exact_*_d*.cu.
//   hopper   attention_hopper_variants.cuh (wgmma; lockstep or TMA-fed; sm_90a builds on compute capability 9.0
//            only), the same problems; taken first unless key splits were asked for. DISTRVIT_NO_WGMMA=1 falls back
//            to the mma.sync kernel.
// Both read only the first score_dim() columns of q and k (low-rank heads).
// CPU reference: attention_exact_cpu (engine/src/attention_cpu.cpp); tested in
// tests/gpu/test_attention_gpu.cpp ("attention: exact vs CPU reference").
#include <cmath>
#include <cstdlib>

#include "attention_common.cuh"
#include "cuda_check.h"
#include "dtype_util.cuh"

namespace distrvit::cuda {
namespace {

constexpr int kRowsPerBlock = 4;  // warps per block in the generic kernel

template <typename T, int kPerLane>
__global__ void __launch_bounds__(kRowsPerBlock * 32) attention_rowwise_kernel(const AttentionDeviceParams p) {
  const int lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;  // over B * H * N
  const int N = p.tokens, D = p.head_dim, DQK = p.score_dim();
  if (row >= int64_t(p.batch) * p.heads * N) return;
  const int n = int(row % N);
  const int bh = int(row / N);
  const int b = bh / p.heads, h = bh % p.heads;
  const int64_t head_off = int64_t(b) * p.qkv_batch_stride + int64_t(h) * p.qkv_head_stride;
  const T* q = static_cast<const T*>(p.q) + head_off + int64_t(n) * p.qkv_token_stride;  // [D]
  const T* k = static_cast<const T*>(p.k) + head_off;                                    // [N][D] at token stride
  const T* v = static_cast<const T*>(p.v) + head_off;
  T* out = static_cast<T*>(p.out) + int64_t(b) * p.out_batch_stride + int64_t(h) * p.out_head_stride +
           int64_t(n) * p.out_token_stride;

  float qv[kPerLane], acc[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    qv[i] = d < DQK ? to_float(q[d]) * p.scale : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int j = 0; j < N; ++j) {
    const T* kj = k + int64_t(j) * p.qkv_token_stride;
    const T* vj = v + int64_t(j) * p.qkv_token_stride;
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < DQK) dot += qv[i] * to_float(kj[d]);
    }
    dot = warp_sum(dot);
    const float m_new = fmaxf(m, dot);
    const float corr = expf(m - m_new);  // 0 on the first key
    const float pj = expf(dot - m_new);
    l = l * corr + pj;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      acc[i] = acc[i] * corr + (d < D ? pj * to_float(vj[d]) : 0.0f);
    }
    m = m_new;
  }
  const float inv = 1.0f / l;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < D) out[d] = from_float<T>(acc[i] * inv);
  }
}

template <typename T>
void launch_rowwise(const AttentionDeviceParams& p, cudaStream_t stream) {
  const int64_t rows = int64_t(p.batch) * p.heads * p.tokens;
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks > 0x7fffffffLL) fail("attention_exact", "too many rows ({})", rows);
  const dim3 grid(static_cast<unsigned>(blocks)), block(kRowsPerBlock * 32);
  if (p.head_dim <= 32)
    attention_rowwise_kernel<T, 1><<<grid, block, 0, stream>>>(p);
  else if (p.head_dim <= 64)
    attention_rowwise_kernel<T, 2><<<grid, block, 0, stream>>>(p);
  else if (p.head_dim <= 128)
    attention_rowwise_kernel<T, 4><<<grid, block, 0, stream>>>(p);
  else
    attention_rowwise_kernel<T, 8><<<grid, block, 0, stream>>>(p);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void attention_exact_generic(const AttentionDeviceParams& p, cudaStream_t stream) {
  check_attention_params(p, "attention_exact", true);
  if (int64_t(p.batch) * p.heads * p.tokens == 0) return;
  DISTRVIT_DISPATCH_DTYPE(p.dtype, T, launch_rowwise<T>(p, stream));
}

namespace flash {

// The fused instantiation for p's (dtype, head_dim, q/k width), called as run(variant) or pick(); false when none.
// kWithD80: head_dim 80 too, which the mma.sync kernel has and the wgmma kernel has not.
template <bool kWithD80 = true, typename Fn>
bool with_fused_instantiation(const AttentionDeviceParams& p, Fn&& fn) {
  if (p.dtype == DataType::F32 || !attention_rows_16b_aligned(p)) return false;
  const bool f16 = p.dtype == DataType::F16;
  const int qk = p.score_dim();
  if constexpr (kWithD80) {
    if (p.head_dim == 80 && qk == 80) return f16 ? fn.template operator()<__half, 80, 80>()
                                                  : fn.template operator()<__nv_bfloat16, 80, 80>();
  }
  if (p.head_dim == 64 && qk == 64) return f16 ? fn.template operator()<__half, 64, 64>()
                                                : fn.template operator()<__nv_bfloat16, 64, 64>();
  if (p.head_dim == 64 && qk == 32) return f16 ? fn.template operator()<__half, 64, 32>()
                                                : fn.template operator()<__nv_bfloat16, 64, 32>();
  if (p.head_dim == 128 && qk == 128) return f16 ? fn.template operator()<__half, 128, 128>()
                                                  : fn.template operator()<__nv_bfloat16, 128, 128>();
  return false;
}

namespace {

struct RunFused {
  const AttentionDeviceParams& p;
  int variant;
  const SplitKv& split;
  cudaStream_t stream;
  template <typename T, int D, int QK>
  bool operator()() const {
    run_flash_attention<T, D, QK>(p, variant, split, stream);
    return true;
  }
};

struct KvSplits {
  const AttentionDeviceParams& p;
  int variant;
  int& splits;
  template <typename T, int D, int QK>
  bool operator()() const {
    splits = flash_kv_splits<T, D, QK>(p, variant);
    return true;
  }
};

struct PickFused {
  const AttentionDeviceParams& p;
  int& picked;
  template <typename T, int D, int QK>
  bool operator()() const {
    picked = pick_flash_variant<T, D, QK>(p);
    return true;
  }
};

}  // namespace

bool run_fused(const AttentionDeviceParams& p, int variant, cudaStream_t stream, const SplitKv& split) {
  if (split.splits > 1 && (!split.out || !split.stats || split.rows != int64_t(p.batch) * p.heads * p.tokens ||
                           split.splits > kMaxKvSplits))
    fail("attention_exact", "key splits {} without a fitting workspace", split.splits);
  return with_fused_instantiation(p, RunFused{p, variant, split, stream});
}

int auto_kv_splits(const AttentionDeviceParams& p, int variant) {
  int splits = 1;
  with_fused_instantiation(p, KvSplits{p, variant, splits});
  return splits;
}

size_t split_workspace_bytes(const AttentionDeviceParams& p, int splits) {
  const size_t rows = size_t(p.batch) * p.heads * p.tokens;
  return splits > 1 ? size_t(splits) * rows * (size_t(p.head_dim) * sizeof(float) + sizeof(float2)) : 0;
}

SplitKv split_workspace(const AttentionDeviceParams& p, int splits, void* workspace) {
  SplitKv split;
  split.splits = splits;
  split.rows = int64_t(p.batch) * p.heads * p.tokens;
  split.out = static_cast<float*>(workspace);                                                   // [splits][rows][D]
  split.stats = reinterpret_cast<float2*>(split.out + size_t(splits) * split.rows * p.head_dim);  // [splits][rows]
  return split;
}

int auto_variant(const AttentionDeviceParams& p) {
  int picked = -1;
  with_fused_instantiation(p, PickFused{p, picked});
  return picked;
}

}  // namespace flash

namespace hopper {
namespace {

struct RunHopper {
  const AttentionDeviceParams& p;
  int variant;
  cudaStream_t stream;
  template <typename T, int D, int QK>
  bool operator()() const {
    run_hopper_attention<T, D, QK>(p, variant, stream);
    return true;
  }
};

struct PickHopper {
  const AttentionDeviceParams& p;
  int& picked;
  template <typename T, int D, int QK>
  bool operator()() const {
    picked = pick_hopper_variant<T, D, QK>(p);
    return true;
  }
};

}  // namespace

bool available() {
#if defined(DISTRVIT_SM90A)
  static const bool hopper = [] {
    int device = 0, major = 0, minor = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    return major == 9 && minor == 0 && !std::getenv("DISTRVIT_NO_WGMMA");
  }();
  return hopper;
#else
  return false;
#endif
}

bool run(const AttentionDeviceParams& p, int variant, cudaStream_t stream) {
  return available() && flash::with_fused_instantiation<false>(p, RunHopper{p, variant, stream});
}

int auto_variant(const AttentionDeviceParams& p) {
  int picked = -1;
  if (available()) flash::with_fused_instantiation<false>(p, PickHopper{p, picked});
  return picked;
}

const char* variant_name(int variant) {
  // Keep in sync with Variants<D, QK> in attention_hopper_variants.cuh.
  static const char* const names[kNumVariants] = {"2 warpgroups x 64 rows, 64 keys", "2 warpgroups x 64 rows, 128 keys",
                                                  "TMA, ping-pong, 64 keys", "TMA + producer warp, ping-pong",
                                                  "TMA + producer warpgroup (setmaxnreg), 128 keys",
                                                  "3 warpgroups + producer warpgroup, ping-pong"};
  return variant >= 0 && variant < kNumVariants ? names[variant] : "?";
}

}  // namespace hopper

int exact_score_width(int head_dim, int nonzero_columns) {
  return head_dim == 64 && nonzero_columns <= 32 ? 32 : head_dim;
}

size_t exact_workspace_bytes(const AttentionDeviceParams& p) {
  return flash::split_workspace_bytes(p, flash::auto_kv_splits(p, -1));
}

void attention_exact(const AttentionDeviceParams& p, cudaStream_t stream, void* workspace, size_t workspace_bytes) {
  check_attention_params(p, "attention_exact", true);
  if (int64_t(p.batch) * p.heads * p.tokens == 0) return;
  const int splits = flash::auto_kv_splits(p, -1);
  flash::SplitKv split;
  if (splits > 1 && workspace && workspace_bytes >= flash::split_workspace_bytes(p, splits))
    split = flash::split_workspace(p, splits, workspace);
  if (split.splits == 1 && hopper::run(p, -1, stream)) return;
  if (flash::run_fused(p, -1, stream, split)) return;
  attention_exact_generic(p, stream);
}

}  // namespace distrvit::cuda
