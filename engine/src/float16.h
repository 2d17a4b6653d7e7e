// Internal: IEEE binary16 and bfloat16 on the host. Decoding is exact; encoding rounds to nearest even and overflows
// to infinity, bit for bit what CUDA's __float2half_rn / __float2bfloat16_rn give for every number (a NaN stays a
// NaN: 0x7fff from the scalar encoders, the x86 F16C conversion's quiet NaN from floats_to_f16).
#pragma once
#include <cstddef>
#include <cstdint>

namespace distrvit {

float f16_to_float(uint16_t half);
float bf16_to_float(uint16_t bfloat);
uint16_t float_to_f16(float value);
uint16_t float_to_bf16(float value);

// dst[i] = float_to_f16(src[i]) / float_to_bf16(src[i]); fp16 by F16C instructions where the CPU has them.
void floats_to_f16(const float* src, uint16_t* dst, size_t count);
void floats_to_bf16(const float* src, uint16_t* dst, size_t count);

}  // namespace distrvit
