// One instantiation of the fused exact-attention kernel (attention_exact.cuh): f16, head_dim 64, scores from
// the first 32 q/k columns (low-rank heads of rank <= 32).
#include "attention_exact.cuh"

namespace distrvit::cuda::flash {
template void run_flash_attention<__half, 64, 32>(const AttentionDeviceParams&, int, const SplitKv&, cudaStream_t);
template int pick_flash_variant<__half, 64, 32>(const AttentionDeviceParams&);
template int flash_kv_splits<__half, 64, 32>(const AttentionDeviceParams&, int);
}  // namespace distrvit::cuda::flash
