// One instantiation of the fused exact-attention kernel (attention_exact.cuh): f16, head_dim 80.
#include "attention_exact.cuh"

namespace distrvit::cuda::flash {
template void run_flash_attention<__half, 80, 80>(const AttentionDeviceParams&, int, const SplitKv&, cudaStream_t);
template int pick_flash_variant<__half, 80, 80>(const AttentionDeviceParams&);
template int flash_kv_splits<__half, 80, 80>(const AttentionDeviceParams&, int);
}  // namespace distrvit::cuda::flash
