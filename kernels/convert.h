// Storage-type conversions on the device: float32 <-> fp16 / bf16 (round to nearest even), and copies.
// CPU reference: the host conversions of cuda_fp16.h / cuda_bf16.h (__float2half_rn, __float2bfloat16_rn);
// tested in tests/gpu/test_ops_gpu.cpp ("convert").
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "attention_cuda.h"  // DataType

namespace distrvit::cuda {

// dst[i] = (dst_type) src[i] for i < count; src float32 [count], dst [count] of `dst_type`.
void convert_from_f32(const float* src, void* dst, DataType dst_type, int64_t count, cudaStream_t stream);

// dst[i] = (float) src[i]; src [count] of `src_type`, dst float32 [count].
void convert_to_f32(const void* src, DataType src_type, float* dst, int64_t count, cudaStream_t stream);

}  // namespace distrvit::cuda
