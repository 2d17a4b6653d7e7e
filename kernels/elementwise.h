// Small element-wise kernels of the ViT forward pass.
// CPU references: gelu_cpu (distrvit/ops_cpu.h), embed_tokens_cpu (distrvit/ops_reference.h);
// tested in tests/gpu/test_ops_gpu.cpp ("bias_gelu", "embed_tokens").
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

}  // namespace distrvit::cuda
