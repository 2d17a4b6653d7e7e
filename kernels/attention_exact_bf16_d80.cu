// One instantiation of the fused exact-attention kernel (attention_exact.cuh): bf16, head_dim 80.
#include "attention_exact.cuh"

namespace distrvit::cuda::flash {
template void run_flash_attention<__nv_bfloat16, 80, 80>(const AttentionDeviceParams&, int, const SplitKv&, cudaStream_t);
template int pick_flash_variant<__nv_bfloat16, 80, 80>(const AttentionDeviceParams&);
template int flash_kv_splits<__nv_bfloat16, 80, 80>(const AttentionDeviceParams&, int);
}  // namespace distrvit::cuda::flash
