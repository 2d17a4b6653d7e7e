// Instantiations of DistrAttention's Hopper kernels (attention_distr_hopper.cuh) for bf16: head_dim 64 and 128,
// G 2, 4, 8; the expanded path per head_dim.
#include "attention_distr_hopper.cuh"

namespace distrvit::cuda::hopper {
#define DISTRVIT_INSTANTIATE(D, G)                                                                           \
  template void run_distr_attention<__nv_bfloat16, D, G>(const AttentionDeviceParams&, const uint8_t*, const void*, \
                                                   int, int, int, cudaStream_t);                            \
  template bool run_distr_prefused<__nv_bfloat16, D, G>(const AttentionDeviceParams&, const void*, const void*, int, \
                                                  int, cudaStream_t);
DISTRVIT_INSTANTIATE(64, 2)
DISTRVIT_INSTANTIATE(64, 4)
DISTRVIT_INSTANTIATE(64, 8)
DISTRVIT_INSTANTIATE(128, 2)
DISTRVIT_INSTANTIATE(128, 4)
DISTRVIT_INSTANTIATE(128, 8)
#undef DISTRVIT_INSTANTIATE
template bool run_distr_expanded<__nv_bfloat16, 64>(const AttentionDeviceParams&, const void*, cudaStream_t);
template bool run_distr_expanded<__nv_bfloat16, 128>(const AttentionDeviceParams&, const void*, cudaStream_t);
}  // namespace distrvit::cuda::hopper
