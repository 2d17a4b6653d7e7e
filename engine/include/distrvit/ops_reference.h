// CPU references for the CUDA kernels that have no counterpart among the CPU engine's building blocks
// (distrvit/ops_cpu.h holds linear_cpu, layernorm_cpu, gelu_cpu, patch_embed_cpu, which the kernels are
// also checked against). Plain loops, float32; tests/gpu/test_ops_gpu.cpp compares each with its kernel.
#pragma once
#include <cstdint>

namespace distrvit {

// Fused residual add + LayerNorm (kernels/layernorm.h): x[r, :] += y[r, :]; out = layernorm(x).
// x (in/out), y, out [rows, dim]; gamma, beta [dim].
void residual_layernorm_cpu(float* x, const float* y, const float* gamma, const float* beta, float* out,
                            int64_t rows, int64_t dim, float eps);

// Token assembly (kernels/elementwise.h embed_tokens):
//   x[b, t, :] = (t < prefix ? prefix_tokens[t, :] : patches[b, t - prefix, :]) + pos_embed[t, :]
// patches [B, tokens - prefix, dim], prefix_tokens [prefix, dim], pos_embed [tokens, dim], x [B, tokens, dim].
void embed_tokens_cpu(const float* patches, const float* prefix_tokens, const float* pos_embed, float* x, int batch,
                      int tokens, int prefix, int dim);

// The tanh approximation of GELU in place (cuBLASLt's GELU epilogue, DISTRVIT_CUDA_GELU=tanh):
//   x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void gelu_tanh_cpu(float* x, int64_t count);

}  // namespace distrvit
