// Small element-wise kernels of the ViT forward pass.
// CPU references: gelu_cpu, mean_rows_cpu (distrvit/ops_cpu.h), embed_tokens_cpu (distrvit/ops_reference.h);
// tested in tests/gpu/test_ops_gpu.cpp ("bias_gelu", "embed_tokens", "mean_tokens").
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "attention_cuda.h"  // DataType

namespace distrvit::cuda {

enum class Activation {
  None,
  GeluErf,   // timm / PyTorch nn.GELU(): 0.5 x (1 + erf(x / sqrt 2))
  GeluTanh,  // the tanh approximation (what cuBLASLt's GELU epilogue computes)
};

// In place on x [rows, cols] of `dtype`: x = act(x + bias) (bias [cols] of `dtype`, or null for none).
void bias_activation(void* x, const void* bias, DataType dtype, int64_t rows, int cols, Activation act,
                     cudaStream_t stream);

// Assembles the token sequence of the residual stream (float32):
//   x[b, t, :] = (t < prefix ? prefix_tokens[t, :] : patches[b, t - prefix, :]) + pos_embed[t, :]
// patches [B, tokens - prefix, dim] of `dtype`; prefix_tokens [prefix, dim], pos_embed [tokens, dim],
// x [B, tokens, dim] float32.
void embed_tokens(const void* patches, DataType dtype, const float* prefix_tokens, const float* pos_embed, float* x,
                  int batch, int tokens, int prefix, int dim, cudaStream_t stream);

// Patch-mean pooling: out[b, :] = the mean over t in [first, tokens) of x[b, t, :] (+ y[b, t, :]), summed in fp32.
struct MeanTokensParams {
  const void* x = nullptr;  // [B, tokens, dim] of x_type
  DataType x_type = DataType::F32;
  const void* y = nullptr;  // optional [B, tokens, dim] of y_type, added to x
  DataType y_type = DataType::F16;
  void* out = nullptr;      // [B, dim] of out_type
  DataType out_type = DataType::F32;
  int batch = 0, tokens = 0, first = 0, dim = 0;
};
void mean_tokens(const MeanTokensParams& p, cudaStream_t stream);

}  // namespace distrvit::cuda
