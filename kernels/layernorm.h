// LayerNorm over the last dimension, optionally fused with the residual add that precedes it:
//   x_out = x + y            (when y is given; the residual stream, float32)
//   out   = LN(x_out) * weight + bias
// Statistics (mean, variance) in float32 from the float32 residual; output in the activation dtype.
// CPU references: layernorm_cpu (distrvit/ops_cpu.h), residual_layernorm_cpu (distrvit/ops_reference.h);
// tested in tests/gpu/test_ops_gpu.cpp ("layernorm", "residual_layernorm").
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "attention_cuda.h"  // DataType

namespace distrvit::cuda {

struct LayerNormParams {
  const float* x = nullptr;    // residual rows; row r at x + (r / group) * group_stride + (r % group) * dim
  const void* y = nullptr;     // optional, of `dtype`, added to x; row r at y + (r / group) * y_group_stride + (r % group) * dim
  float* x_out = nullptr;      // optional: where x + y is stored (same indexing as x; may equal x)
  const float* weight = nullptr;  // [dim]
  const float* bias = nullptr;    // [dim]
  void* out = nullptr;         // [rows, dim] of `dtype`, contiguous
  DataType dtype = DataType::F16;
  int rows = 0, dim = 0;
  int group = 1;               // rows taken from each x group (final norm: the prefix tokens of each image)
  int64_t group_stride = 0;    // elements between groups of x; 0 means group * dim (contiguous rows)
  int64_t y_group_stride = 0;  // elements between groups of y; 0 means group * dim (contiguous rows)
  float eps = 1e-6f;
};

// One warp per row; dim up to 2048. Throws Error for a larger dim.
void layernorm(const LayerNormParams& p, cudaStream_t stream);

}  // namespace distrvit::cuda
