// Attention on the GPU: one strided params struct for every kernel (exact, naive, cuDNN, DistrAttention).
// Layout as on the CPU (distrvit/attention.h): element (b, n, h, d) of q/k/v/out at
// ptr[b * batch_stride + n * token_stride + h * head_stride + d], in elements of `dtype`.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

#include "distrvit/attention.h"

namespace distrvit::cuda {

enum class DataType { F32, F16, BF16 };
size_t data_type_size(DataType dtype);

struct AttentionDeviceParams {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  DataType dtype = DataType::F16;
  int batch = 1, heads = 1, tokens = 1, head_dim = 64;
  int64_t qkv_batch_stride = 0, qkv_token_stride = 0, qkv_head_stride = 0;
  int64_t out_batch_stride = 0, out_token_stride = 0, out_head_stride = 0;
  float scale = 0.125f;
  // Scores from q/k columns [0, qk_dim) only (low-rank heads, projected onto their first columns); 0 = head_dim.
  // Honored by attention_exact; the other kernels reject a width below head_dim.
  int qk_dim = 0;
  __host__ __device__ int score_dim() const { return qk_dim > 0 ? qk_dim : head_dim; }

  // Strides for the fused qkv activation [B, N, 3, H, D] and output [B, N, H, D].
  static AttentionDeviceParams from_qkv(const void* qkv, void* out, DataType dtype, int batch, int tokens, int heads,
                                        int head_dim);
};

// Our fused FlashAttention-style kernel: online softmax, fp32 accumulation, any N, head_dim 64, 80 (mma.sync
// only) and 128 (others fall back to a slower generic path). Throws Error for unsupported configurations.
// With a workspace of exact_workspace_bytes(p) (0 when it would not), few (b, h) pairs with long rows (ViT-Ti at
// batch 1) also split the keys over blocks to fill the GPU; without one it runs unsplit.
void attention_exact(const AttentionDeviceParams& p, cudaStream_t stream, void* workspace = nullptr,
                     size_t workspace_bytes = 0);
size_t exact_workspace_bytes(const AttentionDeviceParams& p);
// The q/k width (qk_dim) to give attention_exact for heads whose q/k columns past `nonzero_columns` are zero:
// the narrowest width the fused kernel has that covers them (32 at head_dim 64), else head_dim.
int exact_score_width(int head_dim, int nonzero_columns);

// Unfused reference: S = s Q K^T into `workspace`, softmax, P V. workspace >= naive_workspace_bytes(p).
size_t naive_workspace_bytes(const AttentionDeviceParams& p);
void attention_naive(const AttentionDeviceParams& p, void* workspace, cudaStream_t stream);

// cuDNN fused scaled-dot-product attention through the graph (backend) API; one execution plan
// cached per (dtype, shape, strides). F16/BF16 only.
class CudnnAttention {
 public:
  CudnnAttention();
  ~CudnnAttention();
  CudnnAttention(const CudnnAttention&) = delete;
  CudnnAttention& operator=(const CudnnAttention&) = delete;
  void run(const AttentionDeviceParams& p, cudaStream_t stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// DistrAttention (see docs): `projection` is the Gaussian R [block, hash_bits] in fp32 on the device,
// drawn from distr.seed exactly as the CPU reference draws it.
void attention_distr(const AttentionDeviceParams& p, const DistrParams& distr, const float* projection,
                     cudaStream_t stream);

// Writes the softmax probabilities of query row 0 (the class token) for every (b, h): [B, H, N] fp32.
// Used for the GUI's attention heat-map; exact attention only.
void cls_attention_probs(const AttentionDeviceParams& p, float* probs, cudaStream_t stream);

}  // namespace distrvit::cuda
