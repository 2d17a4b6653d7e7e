// CPU references for the CUDA kernels (see distrvit/ops_reference.h).
#include "distrvit/ops_reference.h"

#include <cmath>

#include "distrvit/ops_cpu.h"

namespace distrvit {

void residual_layernorm_cpu(float* x, const float* y, const float* gamma, const float* beta, float* out,
                            int64_t rows, int64_t dim, float eps) {
  add_inplace_cpu(x, y, rows * dim);
  layernorm_cpu(x, gamma, beta, out, rows, dim, eps);
}

void embed_tokens_cpu(const float* patches, const float* prefix_tokens, const float* pos_embed, float* x, int batch,
                      int tokens, int prefix, int dim) {
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < tokens; ++t)
      for (int d = 0; d < dim; ++d) {
        const float base = t < prefix ? prefix_tokens[int64_t(t) * dim + d]
                                      : patches[(int64_t(b) * (tokens - prefix) + (t - prefix)) * dim + d];
        x[(int64_t(b) * tokens + t) * dim + d] = base + pos_embed[int64_t(t) * dim + d];
      }
}

void gelu_tanh_cpu(float* x, int64_t count) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  for (int64_t i = 0; i < count; ++i) {
    const double v = x[i];
    x[i] = float(0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))));
  }
}

}  // namespace distrvit
