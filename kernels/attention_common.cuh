// Shared pieces of the attention kernels (exact, naive, cls): parameter checks, the flash-kernel
// instantiation table, and the PTX wrappers (cp.async, ldmatrix, mma.sync) the fused kernel uses.
//
// Layout reminder (attention_cuda.h): element (b, n, h, d) of q/k/v at
//   ptr[b * qkv_batch_stride + n * qkv_token_stride + h * qkv_head_stride + d]
// and of out at the out_* strides. d is always the contiguous dimension.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "attention_cuda.h"
#include "cuda_check.h"

namespace distrvit::cuda {

// Throws Error when `p` cannot describe an attention call (null pointers, non-positive sizes, d > 256,
// qk_dim outside [0, head_dim]) or asks for a q/k width below head_dim from a kernel without that
// (`honors_qk_dim` false: every kernel but exact).
void check_attention_params(const AttentionDeviceParams& p, const char* who, bool honors_qk_dim = false);

// True when q/k/v/out are 16-byte aligned and every stride is a multiple of 8 elements, so that the
// fused kernel can move rows in 16-byte chunks (cp.async / vector stores).
bool attention_rows_16b_aligned(const AttentionDeviceParams& p);

// Exact attention by the generic (one warp per query row) kernel, whatever the dtype / alignment; the
// fallback of attention_exact(), exposed for tests and the benchmark.
void attention_exact_generic(const AttentionDeviceParams& p, cudaStream_t stream);

// Lets kKernel use `bytes` of dynamic shared memory (past the default 48 KB); set on the first call only, once per
// kernel (kKernel is a template argument).
template <auto kKernel>
void allow_dynamic_smem(size_t bytes) {
  static const bool done = [bytes] {
    CUDA_CHECK(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
    return true;
  }();
  (void)done;
}

// Kernels over the (b, h) pairs of a call put them on one grid dimension of at most 65535 blocks: launch(bh0, count)
// for consecutive chunks of the batch * heads pairs.
constexpr int kMaxHeadsPerGrid = 65535;
template <typename Launch>
void for_each_head_chunk(int bh_total, const Launch& launch) {
  for (int bh0 = 0; bh0 < bh_total; bh0 += kMaxHeadsPerGrid) launch(bh0, std::min(kMaxHeadsPerGrid, bh_total - bh0));
}

namespace flash {

// Key splits: when few (b, h, row block) work items leave SMs idle, blocks also split the key range; each writes a
// normalized partial O [splits][B*H*N][D] and its rows' (max score, exp sum) [splits][B*H*N] (fp32), merged after.
constexpr int kMaxKvSplits = 8;
struct SplitKv {
  float* out = nullptr;      // [splits][rows][head_dim]
  float2* stats = nullptr;   // [splits][rows]: (row max of the raw scores, sum of exp2((s - max) * scale_log2))
  int splits = 1;
  int64_t rows = 0;          // B * H * N
};
size_t split_workspace_bytes(const AttentionDeviceParams& p, int splits);
SplitKv split_workspace(const AttentionDeviceParams& p, int splits, void* workspace);
// The key splits variant `variant` (-1 = automatic) would use for p; 1 when it would not split or p is not fused.
int auto_kv_splits(const AttentionDeviceParams& p, int variant);

// Runs variant `variant` (-1 = automatic, 0 .. kNumVariants-1) of the fused kernel; false (nothing launched) when the
// problem doesn't fit it: dtype F32, head_dim not 64 / 128, a q/k width (score_dim) other than head_dim or, at
// head_dim 64, 32, or rows not 16-byte aligned.
bool run_fused(const AttentionDeviceParams& p, int variant, cudaStream_t stream, const SplitKv& split = {});

// Tile configurations of the fused kernel, per head dimension (attention_exact.cuh). Variant -1 lets
// the kernel choose from the problem's shape and the device's occupancy; the others are fixed
// configurations, all tested and timed (bench/attention_bench.cu).
constexpr int kNumVariants = 4;
const char* variant_name(int head_dim, int variant);
// The variant that variant -1 resolves to for this problem (F16 / BF16, head_dim 64 or 128).
int auto_variant(const AttentionDeviceParams& p);

// Defined (explicitly instantiated) in attention_exact_<dtype>_d<head_dim>[_qk<qk_dim>].cu: one translation unit
// per instantiation keeps builds parallel. T is __half or __nv_bfloat16. Requires attention_rows_16b_aligned(p),
// p.head_dim == kHeadDim and p.score_dim() == kQKDim.
template <typename T, int kHeadDim, int kQKDim>
void run_flash_attention(const AttentionDeviceParams& p, int variant, const SplitKv& split, cudaStream_t stream);
template <typename T, int kHeadDim, int kQKDim>
int pick_flash_variant(const AttentionDeviceParams& p);
template <typename T, int kHeadDim, int kQKDim>
int flash_kv_splits(const AttentionDeviceParams& p, int variant);
#define DISTRVIT_DECLARE_FLASH(T, D, QK)                                                                   \
  extern template void run_flash_attention<T, D, QK>(const AttentionDeviceParams&, int, const SplitKv&,  \
                                                     cudaStream_t);                                        \
  extern template int pick_flash_variant<T, D, QK>(const AttentionDeviceParams&);                        \
  extern template int flash_kv_splits<T, D, QK>(const AttentionDeviceParams&, int);
DISTRVIT_DECLARE_FLASH(__half, 64, 64)
DISTRVIT_DECLARE_FLASH(__half, 64, 32)
DISTRVIT_DECLARE_FLASH(__half, 128, 128)
DISTRVIT_DECLARE_FLASH(__nv_bfloat16, 64, 64)
DISTRVIT_DECLARE_FLASH(__nv_bfloat16, 64, 32)
DISTRVIT_DECLARE_FLASH(__nv_bfloat16, 128, 128)
#undef DISTRVIT_DECLARE_FLASH

}  // namespace flash

// The Hopper kernels (attention_hopper_variants.cuh): wgmma, sm_90a only. Same problems as the fused kernel (fp16/bf16,
// head_dim 64 with q/k width 64 or 32, head_dim 128, 16-byte aligned rows), no key splits.
namespace hopper {
constexpr int kNumVariants = 6;
// True when this build holds sm_90a code and the current device is compute capability 9.0.
bool available();
// Runs variant `variant` (-1 = automatic); false (nothing launched) when unavailable or p doesn't fit.
bool run(const AttentionDeviceParams& p, int variant, cudaStream_t stream);
const char* variant_name(int variant);
int auto_variant(const AttentionDeviceParams& p);

// Defined in attention_hopper_<dtype>.cu.
template <typename T, int kHeadDim, int kQKDim>
void run_hopper_attention(const AttentionDeviceParams& p, int variant, cudaStream_t stream);
template <typename T, int kHeadDim, int kQKDim>
int pick_hopper_variant(const AttentionDeviceParams& p);
#define DISTRVIT_DECLARE_HOPPER(T, D, QK)                                                                     \
  extern template void run_hopper_attention<T, D, QK>(const AttentionDeviceParams&, int, cudaStream_t);     \
  extern template int pick_hopper_variant<T, D, QK>(const AttentionDeviceParams&);
DISTRVIT_DECLARE_HOPPER(__half, 64, 64)
DISTRVIT_DECLARE_HOPPER(__half, 64, 32)
DISTRVIT_DECLARE_HOPPER(__half, 128, 128)
DISTRVIT_DECLARE_HOPPER(__nv_bfloat16, 64, 64)
DISTRVIT_DECLARE_HOPPER(__nv_bfloat16, 64, 32)
DISTRVIT_DECLARE_HOPPER(__nv_bfloat16, 128, 128)
#undef DISTRVIT_DECLARE_HOPPER

// DistrAttention's forward on wgmma (attention_distr_hopper.cuh), after the grouping prologue (attention_distr.cu):
// perm [B*H, nblocks, D] uint8 and Q~ [B*H, N, fused width] of p.dtype; block_len (the effective l) a multiple of
// 64 or >= N; variant 0 or 1 (attention_distr_hopper.cuh). Defined in attention_distr_hopper_<dtype>.cu for
// head_dim 64 / 128 and G 2 / 4 / 8.
template <typename T, int kHeadDim, int kGroup>
void run_distr_attention(const AttentionDeviceParams& p, const uint8_t* perm, const void* q_fused, int block_len,
                         int nblocks, int variant, cudaStream_t stream);
// The prefused path: the TMA exact kernel (attention_hopper_tma.cuh) on Q~ [B*H, N, 64] and K~ [B*H, nblocks, N, 64]
// (attention_distr.cuh, kFusedPitch) with p's v; block_len a multiple of 128 or >= N. False (nothing launched) where
// v can't be tensor-mapped.
template <typename T, int kHeadDim, int kGroup>
bool run_distr_prefused(const AttentionDeviceParams& p, const void* q_fused, const void* k_fused, int block_len,
                        int nblocks, cudaStream_t stream);
// The expanded path: the TMA exact kernel on Q' [B*H, N, head_dim] (the grouping prologue's expanded output: column c
// holds its group's Q~ value) with p's k and v. False (nothing launched) where they can't be tensor-mapped.
template <typename T, int kHeadDim>
bool run_distr_expanded(const AttentionDeviceParams& p, const void* q_expanded, cudaStream_t stream);
extern template bool run_distr_expanded<__half, 64>(const AttentionDeviceParams&, const void*, cudaStream_t);
extern template bool run_distr_expanded<__half, 128>(const AttentionDeviceParams&, const void*, cudaStream_t);
extern template bool run_distr_expanded<__nv_bfloat16, 64>(const AttentionDeviceParams&, const void*, cudaStream_t);
extern template bool run_distr_expanded<__nv_bfloat16, 128>(const AttentionDeviceParams&, const void*, cudaStream_t);
#define DISTRVIT_DECLARE_HOPPER_DISTR_G(T, D, G)                                                                   \
  extern template void run_distr_attention<T, D, G>(const AttentionDeviceParams&, const uint8_t*, const void*, int, \
                                                    int, int, cudaStream_t);                                       \
  extern template bool run_distr_prefused<T, D, G>(const AttentionDeviceParams&, const void*, const void*, int, int, \
                                                   cudaStream_t);
#define DISTRVIT_DECLARE_HOPPER_DISTR(T, D) \
  DISTRVIT_DECLARE_HOPPER_DISTR_G(T, D, 2)  \
  DISTRVIT_DECLARE_HOPPER_DISTR_G(T, D, 4)  \
  DISTRVIT_DECLARE_HOPPER_DISTR_G(T, D, 8)
DISTRVIT_DECLARE_HOPPER_DISTR(__half, 64)
DISTRVIT_DECLARE_HOPPER_DISTR(__half, 128)
DISTRVIT_DECLARE_HOPPER_DISTR(__nv_bfloat16, 64)
DISTRVIT_DECLARE_HOPPER_DISTR(__nv_bfloat16, 128)
#undef DISTRVIT_DECLARE_HOPPER_DISTR
#undef DISTRVIT_DECLARE_HOPPER_DISTR_G
}  // namespace hopper

// ---- device helpers (only for .cu files) --------------------------------------------------------
#if defined(__CUDACC__)
namespace ptx {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy that bypasses L1; when !valid nothing is read and 16 zero bytes are written.
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most `kPending` of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

// Four 8x8 b16 matrices; lanes 8i..8i+7 give the row addresses of matrix i, register i receives it.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
// Same, each matrix transposed on the way (used for V, whose rows are the reduction dimension).
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// d[16x8] += a[16x16] * b[16x8], fp32 accumulation. Fragment layouts (PTX ISA, m16n8k16):
//   a0 (row g, k 2t..2t+1), a1 (row g+8), a2 (k+8), a3 (row g+8, k+8); b0 (k 2t..2t+1, col g), b1 (k+8);
//   d0,d1 (row g, col 2t..2t+1), d2,d3 (row g+8), with g = lane / 4, t = lane % 4.
template <typename T>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma_16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                         uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// D (16x8, int32) += A (16x32 int8, row-major fragments as ldmatrix gives them) * B (32x8 int8, column-major).
__device__ __forceinline__ void mma_16832_s8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats -> one register of two 16-bit values, `lo` in the low half (round to nearest even).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}

// Two packed 16-bit values added lane-wise (HADD2 / HADD2.BF16), round to nearest.
template <typename T>
__device__ __forceinline__ uint32_t add2(uint32_t a, uint32_t b);
template <>
__device__ __forceinline__ uint32_t add2<__half>(uint32_t a, uint32_t b) {
  const __half2 s = __hadd2(*reinterpret_cast<const __half2*>(&a), *reinterpret_cast<const __half2*>(&b));
  return *reinterpret_cast<const uint32_t*>(&s);
}
template <>
__device__ __forceinline__ uint32_t add2<__nv_bfloat16>(uint32_t a, uint32_t b) {
  const __nv_bfloat162 s =
      __hadd2(*reinterpret_cast<const __nv_bfloat162*>(&a), *reinterpret_cast<const __nv_bfloat162*>(&b));
  return *reinterpret_cast<const uint32_t*>(&s);
}

// 2^x on the special-function unit (ex2.approx: ~2 ulp; ex2(-inf) = +0).
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Registers per thread of this warpgroup (every thread of it runs the same call): hand some back to the block's
// pool, or wait for some from it. ptxas honours them only when it knows the count at entry (__maxnreg__).
template <int kRegisters>
__device__ __forceinline__ void setmaxnreg_dec() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}
template <int kRegisters>
__device__ __forceinline__ void setmaxnreg_inc() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}

}  // namespace ptx

// A row of an mma accumulator lives on the 4 lanes of a quad: their sum, on every lane of the quad.
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// ---- key-tile steps of the mma.sync kernels (exact and DistrAttention): S [MT m16 tiles][N/8 n8 tiles][4], O
// [MT][D/8][4] in the m16n8 C layout; a row lives on the 4 lanes of a quad.

// Keys at or past N get -inf (the tile starts at key `tile_key0`).
template <int MT, int kNTiles>
__device__ __forceinline__ void mask_tail_keys(float (&s)[MT][kNTiles][4], int tile_key0, int lane, int N) {
  const int key0 = tile_key0 + 2 * (lane & 3);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (key0 + nt * 8 + (e & 1) >= N) s[mt][nt][e] = -INFINITY;
}

// Online softmax of one key tile: S becomes exp2((s - max) scale log2 e), the row max and lane-partial row sums
// move on, O is rescaled by the change of the max. Every tile holds a valid key, so the max is finite; the first
// correction is exp2(-inf) = 0.
template <int MT, int kNTiles, int kDTiles>
__device__ __forceinline__ void online_softmax_tile(float (&s)[MT][kNTiles][4], float (&row_max)[MT][2],
                                                    float (&row_sum)[MT][2], float (&acc_o)[MT][kDTiles][4],
                                                    float scale_log2) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = row_max[mt][r];
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float corr = ptx::exp2_approx((row_max[mt][r] - mx) * scale_log2);
      row_max[mt][r] = mx;
      const float mx_scaled = mx * scale_log2;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float pe = ptx::exp2_approx(fmaf(s[mt][nt][2 * r + e], scale_log2, -mx_scaled));
          s[mt][nt][2 * r + e] = pe;
          sum += pe;
        }
      }
      row_sum[mt][r] = row_sum[mt][r] * corr + sum;  // lane-partial; reduced over the quad at the end
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt) {
        acc_o[mt][dt][2 * r] *= corr;
        acc_o[mt][dt][2 * r + 1] *= corr;
      }
    }
  }
}

// O += P V for one key tile: P straight from the S accumulators (C layout == A layout pairwise), V [keys][pitch]
// in shared memory via ldmatrix.trans.
template <typename T, int MT, int kNTiles, int kDTiles>
__device__ __forceinline__ void accumulate_pv(float (&acc_o)[MT][kDTiles][4], const float (&s)[MT][kNTiles][4],
                                              const T* sV, int pitch, int lane) {
  const int a_row = (lane & 7) + ((lane >> 3) & 1) * 8, a_col = (lane >> 4) * 8;
#pragma unroll
  for (int kk = 0; kk < kNTiles / 2; ++kk) {
    uint32_t a[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      a[mt][0] = ptx::pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
      a[mt][1] = ptx::pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
      a[mt][2] = ptx::pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
      a[mt][3] = ptx::pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
    }
#pragma unroll
    for (int db = 0; db < kDTiles / 2; ++db) {
      uint32_t vb[4];  // d-tile 2db: vb[0], vb[1]; d-tile 2db+1: vb[2], vb[3]
      ptx::ldmatrix_x4_trans(vb, ptx::smem_addr(sV + (kk * 16 + a_row) * pitch + db * 16 + a_col));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        ptx::mma_16816<T>(acc_o[mt][2 * db], a[mt], vb[0], vb[1]);
        ptx::mma_16816<T>(acc_o[mt][2 * db + 1], a[mt], vb[2], vb[3]);
      }
    }
  }
}

// Epilogue shared by the fused attention kernels (exact and DistrAttention): O / l with the row sums reduced over
// each quad of lanes, staged as T in this warp's own rows of `staging` ([rows][pitch] in shared memory, nobody
// else reads them), then 16-byte coalesced stores of the rows first_row + r < row_limit into `out`
// (this (b, h)'s output, rows token_stride apart).
template <typename T, int MT, int D>
__device__ __forceinline__ void store_output_rows(const float (&acc_o)[MT][D / 8][4], const float (&row_sum)[MT][2],
                                                  T* staging, int pitch, int warp_row0, int lane, T* out,
                                                  int64_t token_stride, int first_row, int row_limit) {
  constexpr int kDTiles = D / 8;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float inv = 1.0f / quad_sum(row_sum[mt][r]);
      const int row = warp_row0 + mt * 16 + (lane >> 2) + 8 * r;
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt) {
        const int col = dt * 8 + 2 * (lane & 3);
        *reinterpret_cast<uint32_t*>(staging + row * pitch + col) =
            ptx::pack2<T>(acc_o[mt][dt][2 * r] * inv, acc_o[mt][dt][2 * r + 1] * inv);
      }
    }
  }
  __syncwarp();
  constexpr int kChunks = D / 8;
#pragma unroll
  for (int i = lane; i < 16 * MT * kChunks; i += 32) {
    const int r = i / kChunks, c = i % kChunks;
    if (first_row + warp_row0 + r < row_limit)
      *reinterpret_cast<uint4*>(out + int64_t(first_row + warp_row0 + r) * token_stride + c * 8) =
          *reinterpret_cast<const uint4*>(staging + (warp_row0 + r) * pitch + c * 8);
  }
}
#endif  // __CUDACC__

}  // namespace distrvit::cuda
