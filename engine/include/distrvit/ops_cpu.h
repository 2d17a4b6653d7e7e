// CPU building blocks of the ViT forward (fp32). They double as the references for the CUDA kernels.
#pragma once
#include <cstdint>

namespace distrvit {

// out[M, N] = in[M, K] @ weight[N, K]^T + bias[N]   (bias may be null; OpenBLAS, all threads)
void linear_cpu(const float* in, const float* weight, const float* bias, float* out, int64_t m, int64_t n, int64_t k);

// Row-wise LayerNorm over the last dimension: x [rows, cols] -> out [rows, cols].
void layernorm_cpu(const float* x, const float* gamma, const float* beta, float* out, int64_t rows, int64_t cols,
                   float eps);

// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), in place over n values.
void gelu_cpu(float* x, int64_t n);

// Row-wise softmax in place (max-subtracted, fp32): x [rows, cols].
void softmax_rows_cpu(float* x, int64_t rows, int64_t cols);

// x[i] += y[i]
void add_inplace_cpu(float* x, const float* y, int64_t n);

// Patch embedding as a strided convolution: image [B, C, H, W] -> tokens [B, gh*gw, E],
// weight [E, C, P, P], bias [E].
void patch_embed_cpu(const float* image, const float* weight, const float* bias, float* tokens, int batch,
                     int channels, int height, int width, int patch, int embed);

// Fast exact attention for the CPU engine (BLAS per head; same contract as attention_exact_cpu).
struct AttentionParams;
void attention_blas_cpu(const AttentionParams& p, float* cls_probs /* [B, H, N] or null */);

}  // namespace distrvit
