// DistrAttention on the GPU: host-side entry points beyond attention_distr() (attention_cuda.h), for the
// tests and the benchmark. Plain C++ (no device code): included from .cpp files too.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "attention_cuda.h"
#include "distrvit/attention.h"

namespace distrvit::cuda::distr {

// Width of the fused Q~ / K~ rows the kernels use: E = head_dim / G rounded up to 16 (the mma k step);
// columns E .. padded-1 are zeros.
int fused_width(int head_dim, int group);

// Number of l-row blocks of one head: ceil(N / min(l, N)).
int num_blocks(int tokens, int block);
// The l the kernels use: min(l, N) (one block for all rows when l >= N).
int effective_block(const AttentionDeviceParams& p, const DistrParams& distr);

// The grouping prologue alone (what attention_distr runs first): for every (b, h, Q block)
//   perm    [B*H, nblocks, head_dim] uint8: pi, the stable argsort of the inverse-Gray SimHash keys;
//   q_fused [B*H, N, fused_width] of p.dtype: Q~ (mean or sample), zeros past E.
// Buffers are the caller's (device memory).
void group_blocks(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, uint8_t* perm,
                  void* q_fused, cudaStream_t stream);

// The expanded path's prologue alone (kExpanded below): perm as group_blocks, and
//   q_expanded [B*H, N, head_dim] of p.dtype: Q', column c holding its group's Q~ value.
// attention_distr_int8.cu: distr.h's Int8 codes [B*H, nblocks, head_dim] of every l-block (any l < kMaxInt8BlockRows,
// which the callers' check_distr enforces; any P, dtype), with int8_codes_scratch_bytes of scratch.
size_t int8_codes_scratch_bytes(const AttentionDeviceParams& p, const DistrParams& distr);
void int8_codes(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, uint32_t* codes,
                void* scratch, cudaStream_t stream);

// The short-block kernel (expand_short_blocks) where it applies and allowed, else the general grouping kernel.
struct ExpandKernel {
  bool allow_short = true;
  int short_max_grid = 0;  // > 0: at most this many thread blocks (tests: each pair loops over many l-blocks)
};
void expand_blocks(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, uint8_t* perm,
                   void* q_expanded, ExpandKernel kernel, cudaStream_t stream);
// attention_distr_expand.cu: two warps per l-block where l <= 64, P <= 16, head_dim 64 / 128, fp16 / bf16,
// G 2 / 4 / 8 and 16-byte aligned rows, R and output, persistent (max_grid 0: one wave); false (nothing launched)
// elsewhere.
bool expand_short_blocks(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection,
                         uint8_t* perm, void* q_expanded, int max_grid, cudaStream_t stream);

// The prefused path (kPrefused below): Q~ rows of kFusedPitch columns from group_blocks, and K~ of every l-block,
//   k_fused [B*H, nblocks, N, kFusedPitch] of p.dtype (attention_distr_kfused.cu), zeros past the fused width.
constexpr int kFusedPitch = 64;
size_t fused_k_bytes(const AttentionDeviceParams& p, const DistrParams& distr);
void fuse_k_blocks(const AttentionDeviceParams& p, const DistrParams& distr, const uint8_t* perm, void* k_fused,
                   cudaStream_t stream);

// Execution paths of attention_distr (all compute the same thing):
//   kAuto     what attention_distr() does: G = 1 -> attention_exact (the grouping only permutes columns);
//             head_dim 128, N >= 2048 where prefused_fits -> kPrefused; else where expanded_fits -> kExpanded;
//             where hopper_fits -> kHopper; fp16/bf16,
//             head_dim 64/128, 16-byte rows -> fused tensor-core kernel; else kGeneric.
//   kFused64  fused kernel with 64-row Q tiles;  kFused128  with 128-row Q tiles (both also for G = 1);
//   kGeneric  one warp per query row, fp32 (any dtype incl. F32, head_dim <= 256, any strides);
//   kHopper   the wgmma kernel (attention_distr_hopper.cuh), its variant for this head_dim;
//   kHopper0 / kHopper1  its variants: registers uncapped / capped at 128 for two blocks per SM;
//   kPrefused the TMA exact kernel on Q~ and a K~ precomputed per l-block (attention_distr.cu, item 4);
//   kExpanded the TMA exact kernel on Q' = Q~ S^T, where S [D, D/G] is the 0/1 group membership: column c of Q'
//             is its group's Q~ value, so Q' K^T = Q~ K~^T exactly (in real numbers) with no K~ at all, for any l;
//             full-width products: it saves no tensor-core work (attention_distr.cu, item 5).
enum class Path {
  kAuto = 0,
  kFused64 = 1,
  kFused128 = 2,
  kGeneric = 3,
  kHopper = 4,
  kHopper0 = 5,
  kHopper1 = 6,
  kPrefused = 7,
  kExpanded = 8
};
// True when kHopper can run p: an sm_90a build on compute capability 9.0, what the fused kernel needs, G 2 / 4 / 8,
// and every 64 query rows inside one l-block (the effective l a multiple of 64, or one block for all rows).
bool hopper_fits(const AttentionDeviceParams& p, const DistrParams& distr);
// True when kPrefused can run p: what kHopper needs, at most two l-blocks (one, or l a multiple of 128) and
// head_dim / G <= kFusedPitch. kAuto takes it there for N >= 2048.
bool prefused_fits(const AttentionDeviceParams& p, const DistrParams& distr);
// True when kExpanded can run p: an sm_90a build on compute capability 9.0, what the fused kernel needs, G 2 / 4 / 8.
bool expanded_fits(const AttentionDeviceParams& p, const DistrParams& distr);
const char* path_name(Path path);
// Throws Error when the path can't run this problem (e.g. kFused* on F32).
void run(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection, Path path,
         cudaStream_t stream);
// The path kAuto resolves to for this problem.
Path auto_path(const AttentionDeviceParams& p, const DistrParams& distr);

}  // namespace distrvit::cuda::distr
