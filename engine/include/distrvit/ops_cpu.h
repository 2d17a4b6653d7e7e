// CPU building blocks of the ViT forward (fp32). They double as the references for the CUDA kernels.
#pragma once
#include <cstdint>

namespace distrvit {

// out[M, N] = in[M, K] @ weight[N, K]^T + bias[N]   (bias may be null; OpenBLAS, on as many threads as it is set
// to: a CPU engine sets it to one and spreads its own work)
void linear_cpu(const float* in, const float* weight, const float* bias, float* out, int64_t m, int64_t n, int64_t k);

// Row-wise LayerNorm over the last dimension: x [rows, cols] -> out [rows, cols].
void layernorm_cpu(const float* x, const float* gamma, const float* beta, float* out, int64_t rows, int64_t cols,
                   float eps);

// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), in place over n values (within 6e-7 relative).
void gelu_cpu(float* x, int64_t n);

// Row-wise softmax in place (max-subtracted, fp32): x [rows, cols].
void softmax_rows_cpu(float* x, int64_t rows, int64_t cols);

// x[i] += y[i]
void add_inplace_cpu(float* x, const float* y, int64_t n);

// out[c] = the mean of x[r, c] over the rows of x [rows, cols] (summed in double); the reference of
// kernels/elementwise.h mean_tokens.
void mean_rows_cpu(const float* x, float* out, int64_t rows, int64_t cols);

// Patch embedding as a strided convolution: image [B, C, H, W] -> tokens [B, gh*gw, E],
// weight [E, C, P, P], bias [E].
void patch_embed_cpu(const float* image, const float* weight, const float* bias, float* tokens, int batch,
                     int channels, int height, int width, int patch, int embed);

// Patches [first_patch, first_patch + patch_count) of one image [C, H, W] (row-major over the grid) ->
// tokens [patch_count, E]; columns is scratch for [patch_count, C*P*P].
void patch_embed_rows_cpu(const float* image, const float* weight, const float* bias, float* tokens, int first_patch,
                          int patch_count, int channels, int height, int width, int patch, int embed, float* columns);

// Fast exact attention for the CPU engine (OpenBLAS; attention_exact_cpu's contract) on query rows
// [row_begin, row_end) of image b, head h: scores [rows, N] is scratch; cls_probs [N] (or null) receives the class
// token's probabilities when row_begin is 0.
struct AttentionParams;
void attention_blas_rows_cpu(const AttentionParams& p, int b, int h, int row_begin, int row_end, float* scores,
                             float* cls_probs);

}  // namespace distrvit
