// One instantiation of the fused exact-attention kernel (attention_exact.cuh): bf16, head_dim 64.
#include "attention_exact.cuh"

namespace distrvit::cuda::flash {
template void run_flash_attention<__nv_bfloat16, 64>(const AttentionDeviceParams&, int, cudaStream_t);
template int pick_flash_variant<__nv_bfloat16, 64>(const AttentionDeviceParams&);
}  // namespace distrvit::cuda::flash
