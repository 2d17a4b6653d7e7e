// Instantiations of the Hopper exact-attention kernels (attention_hopper_variants.cuh) for bf16: head_dim 64
// (q/k width 64 and 32) and 128.
#include "attention_hopper_variants.cuh"

namespace distrvit::cuda::hopper {
template void run_hopper_attention<__nv_bfloat16, 64, 64>(const AttentionDeviceParams&, int, cudaStream_t);
template void run_hopper_attention<__nv_bfloat16, 64, 32>(const AttentionDeviceParams&, int, cudaStream_t);
template void run_hopper_attention<__nv_bfloat16, 128, 128>(const AttentionDeviceParams&, int, cudaStream_t);
template int pick_hopper_variant<__nv_bfloat16, 64, 64>(const AttentionDeviceParams&);
template int pick_hopper_variant<__nv_bfloat16, 64, 32>(const AttentionDeviceParams&);
template int pick_hopper_variant<__nv_bfloat16, 128, 128>(const AttentionDeviceParams&);
}  // namespace distrvit::cuda::hopper
