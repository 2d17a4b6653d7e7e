// One instantiation of the fused exact-attention kernel (attention_exact.cuh): f16, head_dim 64.
#include "attention_exact.cuh"

namespace distrvit::cuda::flash {
template void run_flash_attention<__half, 64>(const AttentionDeviceParams&, int, cudaStream_t);
template int pick_flash_variant<__half, 64>(const AttentionDeviceParams&);
}  // namespace distrvit::cuda::flash
