// Hopper (sm_90) tensor memory accelerator and shared-memory barriers for the attention kernels: tensor maps over
// the q / k / v views of the fused activations (host), bulk tensor copies into 128-byte-swizzled tiles and the
// mbarrier operations that track them (device).
//
// A q / k / v view is a 4-D tensor [B][H][N][D] of 16-bit elements with arbitrary strides (element units) for
// tokens, heads and batches; a copy moves a box of `box_rows` rows x 64 columns into one SW128 sub-tile (wgmma.cuh's
// layout: 128-byte rows, chunk c of row r at c ^ (r % 8); the destination 1024-byte aligned). Rows past N arrive as
// zeros, and the barrier still counts the whole box.
#pragma once
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_check.h"

namespace distrvit::cuda::tma {

// The tensor map of one view; false (map untouched) where TMA can't address it (base not 16-byte aligned, a
// stride not a multiple of 16 bytes, a box over 256 rows). Throws Error when the driver rejects a valid request.
bool encode_view(CUtensorMap& map, bool bf16, const void* base, int head_dim, int tokens, int heads, int batch,
                 int64_t token_stride, int64_t head_stride, int64_t batch_stride, int box_rows);

#if defined(__CUDACC__)

// The instructions exist only in sm_90 device code; elsewhere they compile to nothing (the kernels that use them
// are never launched there).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define DISTRVIT_SM90_ASM(...) asm volatile(__VA_ARGS__)
#else
#define DISTRVIT_SM90_ASM(...) \
  do {                         \
  } while (0)
#endif

__device__ __forceinline__ void barrier_init(uint32_t bar, uint32_t arrivals) {
  DISTRVIT_SM90_ASM("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(arrivals) : "memory");
}
// Makes initialized barriers visible to the other threads and to the async proxy (then __syncthreads).
__device__ __forceinline__ void barrier_init_fence() {
  DISTRVIT_SM90_ASM("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
// One arrival that also announces `bytes` of copies that will complete on this barrier.
__device__ __forceinline__ void arrive_expect_bytes(uint32_t bar, uint32_t bytes) {
  DISTRVIT_SM90_ASM("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void arrive(uint32_t bar) {
  DISTRVIT_SM90_ASM("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the barrier's phase with parity `phase` (0, 1, 0, ... for its 1st, 2nd, 3rd completion) is over.
__device__ __forceinline__ void wait(uint32_t bar, uint32_t phase) {
  uint32_t done = 0;
  do {
    DISTRVIT_SM90_ASM(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(phase)
        : "memory");
#if !(defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900)
    done = 1;
#endif
  } while (!done);
}

// Box (columns col .. col + 63, rows row .. row + box_rows - 1) of head h, batch b -> SW128 sub-tile at `dst`;
// completes `bar`'s expected bytes.
__device__ __forceinline__ void load_box(uint32_t dst, const CUtensorMap* map, uint32_t bar, int col, int row, int h,
                                         int b) {
  DISTRVIT_SM90_ASM(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, "
      "%5}], [%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(col), "r"(row), "r"(h), "r"(b), "r"(bar)
      : "memory");
}

// Named barriers between warpgroups: `sync` waits until `threads` threads have synced or arrived at barrier `id`;
// `arrive` counts this warp in without waiting.
__device__ __forceinline__ void named_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

#undef DISTRVIT_SM90_ASM

#endif  // __CUDACC__

}  // namespace distrvit::cuda::tma
