// Internal: IEEE binary16 and bfloat16 on the host. Decoding is exact; encoding rounds to nearest even and overflows
// to infinity, bit for bit what CUDA's __float2half_rn / __float2bfloat16_rn give for every number (a NaN stays a
// NaN: 0x7fff from the scalar encoders, the x86 F16C conversion's quiet NaN from float_rows_to_f16).
#pragma once
#include <cstddef>
#include <cstdint>

namespace distrvit {

float f16_to_float(uint16_t half);
float bf16_to_float(uint16_t bfloat);
uint16_t float_to_f16(float value);
uint16_t float_to_bf16(float value);

// `rows` runs of `cols` values, run r from src + r * src_stride to dst + r * dst_stride (strides in elements):
// dst[i] = float_to_f16(src[i]) / float_to_bf16(src[i]); fp16 by F16C instructions where the CPU has them. One call
// converts a whole 2-D block (a patch of an image plane), so the per-call cost is paid once per block.
void float_rows_to_f16(const float* src, ptrdiff_t src_stride, uint16_t* dst, ptrdiff_t dst_stride, int rows,
                       size_t cols);
void float_rows_to_bf16(const float* src, ptrdiff_t src_stride, uint16_t* dst, ptrdiff_t dst_stride, int rows,
                        size_t cols);

}  // namespace distrvit
