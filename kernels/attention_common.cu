// Host-side helpers shared by the attention kernels: dtype sizes, the fused-qkv strides, parameter checks.
#include <cmath>

#include "attention_common.cuh"
#include "cuda_check.h"

namespace distrvit::cuda {

size_t data_type_size(DataType dtype) {
  switch (dtype) {
    case DataType::F32: return 4;
    case DataType::F16: return 2;
    case DataType::BF16: return 2;
  }
  throw Error("data_type_size: unknown DataType");
}

AttentionDeviceParams AttentionDeviceParams::from_qkv(const void* qkv, void* out, DataType dtype, int batch,
                                                      int tokens, int heads, int head_dim) {
  // qkv [B, N, 3, H, D], out [B, N, H, D]; strides in elements.
  const int64_t embed = int64_t(heads) * head_dim;
  const size_t elem = data_type_size(dtype);
  const char* base = static_cast<const char*>(qkv);
  AttentionDeviceParams p;
  p.q = base;
  p.k = base + embed * elem;
  p.v = base + 2 * embed * elem;
  p.out = out;
  p.dtype = dtype;
  p.batch = batch;
  p.heads = heads;
  p.tokens = tokens;
  p.head_dim = head_dim;
  p.qkv_batch_stride = int64_t(tokens) * 3 * embed;
  p.qkv_token_stride = 3 * embed;
  p.qkv_head_stride = head_dim;
  p.out_batch_stride = int64_t(tokens) * embed;
  p.out_token_stride = embed;
  p.out_head_stride = head_dim;
  p.scale = 1.0f / std::sqrt(float(head_dim));
  return p;
}

void check_attention_params(const AttentionDeviceParams& p, const char* who, bool honors_qk_dim) {
  if (p.batch < 0 || p.heads < 0 || p.tokens < 0)
    fail(who, "negative shape B={} H={} N={}", p.batch, p.heads, p.tokens);
  if (p.head_dim <= 0 || p.head_dim > 256) fail(who, "head_dim {} not in [1, 256]", p.head_dim);
  if (p.qk_dim < 0 || p.qk_dim > p.head_dim) fail(who, "qk_dim {} not in [0, head_dim {}]", p.qk_dim, p.head_dim);
  if (!honors_qk_dim && p.score_dim() != p.head_dim)
    fail(who, "scores from {} of {} q/k columns (low-rank heads) run on the exact kernel only", p.score_dim(),
         p.head_dim);
  const bool empty = int64_t(p.batch) * p.heads * p.tokens == 0;
  if (!empty && (!p.q || !p.k || !p.v || !p.out)) fail(who, "null q/k/v/out pointer");
}

bool attention_rows_16b_aligned(const AttentionDeviceParams& p) {
  auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  const int64_t elems = 16 / int64_t(data_type_size(p.dtype));  // elements per 16 bytes
  const int64_t strides[] = {p.qkv_batch_stride, p.qkv_token_stride, p.qkv_head_stride,
                             p.out_batch_stride, p.out_token_stride, p.out_head_stride, p.head_dim};
  for (int64_t s : strides)
    if (s % elems != 0) return false;
  return aligned(p.q) && aligned(p.k) && aligned(p.v) && aligned(p.out);
}

namespace flash {

const char* variant_name(int head_dim, int variant) {
  // Keep in sync with Variants<T, D> in attention_exact.cuh.
  static const char* const d64[kNumVariants] = {"4 warps x 32 rows, 64 keys, Q in regs",
                                                "4 warps x 16 rows, 64 keys, Q in regs",
                                                "8 warps x 32 rows, 64 keys, Q in regs",
                                                "4 warps x 32 rows, 128 keys, Q in smem"};
  static const char* const d128[kNumVariants] = {"4 warps x 32 rows, 32 keys, Q in smem",
                                                 "4 warps x 16 rows, 64 keys, Q in regs",
                                                 "4 warps x 32 rows, 64 keys, Q in smem",
                                                 "8 warps x 16 rows, 64 keys, Q in regs"};
  static const char* const d80[kNumVariants] = {"4 warps x 32 rows, 64 keys, Q in regs",
                                                "4 warps x 16 rows, 64 keys, Q in regs",
                                                "4 warps x 32 rows, 32 keys, Q in smem",
                                                "8 warps x 16 rows, 64 keys, Q in regs"};
  if (variant < 0 || variant >= kNumVariants) return "?";
  return head_dim == 64 ? d64[variant] : head_dim == 80 ? d80[variant] : head_dim == 128 ? d128[variant] : "?";
}

}  // namespace flash
}  // namespace distrvit::cuda
