// Hopper (sm_90a) warpgroup matrix instructions for the attention kernels: shared-memory matrix descriptors for
// 128-byte-swizzled tiles, wgmma.mma_async wrappers (fp16 / bf16 in, fp32 accumulators) and the fences around them.
//
// Tiles in shared memory ("SW128"): rows of 64 elements (128 bytes), 16-byte chunk c of row r stored at chunk
// position c ^ (r % 8); a tile with more than 64 columns is several such 64-column sub-tiles one after another.
// Every sub-tile starts at a 1024-byte boundary. wgmma reads them through descriptors:
//   K-major operand (the reduction dimension contiguous: Q and K for S = Q K^T): 8-row groups 1024 bytes apart
//     (stride byte offset), k-step s of 16 columns = start address + 32 s bytes inside the sub-tile.
//   MN-major operand (V for O = P V, rows = keys): 8-key groups 1024 bytes apart, 64-column sub-tiles
//     `leading` bytes apart, k-step of 16 keys = start address + 2048 bytes.
// Accumulator layout of m64nN (per warpgroup of 128 threads): warp w of the group owns rows 16 w .. 16 w + 15;
// register 4 i + e of lane l holds row 16 w + l / 4 + 8 (e / 2), column 8 i + 2 (l % 4) + e % 2 (the mma.sync
// m16n8 C layout, N / 8 times). The register A operand (m64 x k16) is the mma.sync m16n8k16 A layout per warp.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace distrvit::cuda::wgmma {

constexpr int kSwizzleRowBytes = 128;   // one SW128 row: 64 16-bit elements
constexpr int kSwizzleAtomBytes = 1024; // 8 rows

#if defined(__CUDACC__)

// Byte offset of element (row, col) inside a SW128 tile of `rows` rows (col < 64 * sub-tiles).
__host__ __device__ constexpr uint32_t sw128_offset(int row, int col, int rows) {
  return uint32_t((col / 64) * rows * kSwizzleRowBytes + row * kSwizzleRowBytes +
                  ((((col % 64) / 8) ^ (row % 8)) * 16) + (col % 8) * 2);
}

// The first 1024-byte boundary at or after a shared-memory address (where SW128 tiles must start).
__device__ __forceinline__ uint32_t align_1024(uint32_t smem_addr) {
  return (smem_addr + kSwizzleAtomBytes - 1) & ~uint32_t(kSwizzleAtomBytes - 1);
}

// Shared-memory matrix descriptor: start address, leading / stride byte offsets, 128-byte swizzle.
__device__ __forceinline__ uint64_t sw128_descriptor(uint32_t smem_addr, uint32_t leading_bytes,
                                                     uint32_t stride_bytes) {
  uint64_t desc = uint64_t((smem_addr & 0x3FFFF) >> 4);
  desc |= uint64_t((leading_bytes >> 4) & 0x3FFF) << 16;
  desc |= uint64_t((stride_bytes >> 4) & 0x3FFF) << 32;
  desc |= uint64_t(1) << 62;  // SWIZZLE_128B
  return desc;
}

// The descriptor of smem_addr + offset_bytes from that of smem_addr: shared addresses are below 256 KB, so the sum
// stays inside the 14-bit start-address field. One add instead of re-encoding the address for every instruction.
__device__ __forceinline__ uint64_t descriptor_plus(uint64_t desc, uint32_t offset_bytes) {
  return desc + (offset_bytes >> 4);
}

// The instructions exist only in sm_90a device code; elsewhere (host pass, other targets) they compile to nothing,
// and kernels built on them check DISTRVIT_HAS_WGMMA.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define DISTRVIT_HAS_WGMMA 1
#define DISTRVIT_SM90A_ASM(...) asm volatile(__VA_ARGS__)
#else
#define DISTRVIT_SM90A_ASM(...) \
  do {                          \
  } while (0)
#endif

// Orders this warpgroup's register writes before the wgmma instructions that follow.
__device__ __forceinline__ void fence() { DISTRVIT_SM90A_ASM("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void commit_group() {
  DISTRVIT_SM90A_ASM("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// Waits until at most kPending committed groups of this warpgroup are in flight.
template <int kPending>
__device__ __forceinline__ void wait_group() {
  DISTRVIT_SM90A_ASM("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// Shared memory written by ordinary stores or cp.async becomes visible to wgmma (the async proxy).
__device__ __forceinline__ void fence_proxy_async() {
  DISTRVIT_SM90A_ASM("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// Registers that an in-flight wgmma reads or writes: the compiler may neither move their uses across this point
// nor reuse them before it (call after wait_group and before fence).
template <int N>
__device__ __forceinline__ void keep(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N>
__device__ __forceinline__ void keep(uint32_t (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(r[i])::"memory");
}

#define DISTRVIT_WGMMA_SS_N64(TYPE)                                                          \
  DISTRVIT_SM90A_ASM("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                     \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE " "                \
               "{" \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "  \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"  \
               "}, %32, %33, p, 1, 1, 0, 0;\n}\n"                                   \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),             \
                 "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),           \
                 "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),       \
                 "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),       \
                 "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),       \
                 "+f"(d[30]), "+f"(d[31])                                                            \
               : "l"(desc_a), "l"(desc_b), "r"(scale_d))

#define DISTRVIT_WGMMA_RS_N64(TYPE)                                                 \
  DISTRVIT_SM90A_ASM("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                     \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE " "                \
               "{" \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "  \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"  \
               "}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"     \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),             \
                 "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),           \
                 "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),       \
                 "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),       \
                 "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),       \
                 "+f"(d[30]), "+f"(d[31])                                                            \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d))

#define DISTRVIT_WGMMA_SS_N128(TYPE)                                                          \
  DISTRVIT_SM90A_ASM("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                     \
               "wgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE " "                \
               "{" \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "  \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "  \
               "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "  \
               "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"  \
               "}, %64, %65, p, 1, 1, 0, 0;\n}\n"                                   \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),             \
                 "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),           \
                 "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),       \
                 "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),       \
                 "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),       \
                 "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),       \
                 "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),       \
                 "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),       \
                 "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]),       \
                 "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),       \
                 "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                                  \
               : "l"(desc_a), "l"(desc_b), "r"(scale_d))

#define DISTRVIT_WGMMA_RS_N128(TYPE)                                                 \
  DISTRVIT_SM90A_ASM("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                     \
               "wgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE " "                \
               "{" \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "  \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "  \
               "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "  \
               "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"  \
               "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"     \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),             \
                 "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),           \
                 "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),       \
                 "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),       \
                 "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),       \
                 "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),       \
                 "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),       \
                 "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),       \
                 "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]),       \
                 "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),       \
                 "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                                  \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d))

// d[64 x N] (+)= A[64 x 16] B[16 x N]: A and B from shared memory, both K-major. scale_d 0: d = A B.
template <typename T, int N>
__device__ __forceinline__ void mma_ss(float (&d)[N / 2], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  static_assert(N == 64 || N == 128, "wgmma shapes: m64n64k16, m64n128k16");
  if constexpr (std::is_same_v<T, __half>) {
    if constexpr (N == 64) DISTRVIT_WGMMA_SS_N64("f16"); else DISTRVIT_WGMMA_SS_N128("f16");
  } else {
    if constexpr (N == 64) DISTRVIT_WGMMA_SS_N64("bf16"); else DISTRVIT_WGMMA_SS_N128("bf16");
  }
}

// d[64 x N] (+)= A[64 x 16] B[16 x N]: A from registers (4 x 2 elements per thread, see above), B from shared
// memory MN-major (V, keys as rows: the transposed form).
template <typename T, int N>
__device__ __forceinline__ void mma_rs_mn(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t desc_b, int scale_d) {
  static_assert(N == 64 || N == 128, "wgmma shapes: m64n64k16, m64n128k16");
  if constexpr (std::is_same_v<T, __half>) {
    if constexpr (N == 64) DISTRVIT_WGMMA_RS_N64("f16"); else DISTRVIT_WGMMA_RS_N128("f16");
  } else {
    if constexpr (N == 64) DISTRVIT_WGMMA_RS_N64("bf16"); else DISTRVIT_WGMMA_RS_N128("bf16");
  }
}

#undef DISTRVIT_WGMMA_SS_N64
#undef DISTRVIT_WGMMA_SS_N128
#undef DISTRVIT_WGMMA_RS_N64
#undef DISTRVIT_WGMMA_RS_N128
#undef DISTRVIT_SM90A_ASM

#endif  // __CUDACC__

}  // namespace distrvit::cuda::wgmma
