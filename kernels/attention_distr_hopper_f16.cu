// Instantiations of DistrAttention's Hopper kernel (attention_distr_hopper.cuh) for f16: head_dim 64 and 128,
// G 2, 4, 8.
#include "attention_distr_hopper.cuh"

namespace distrvit::cuda::hopper {
template void run_distr_attention<__half, 64, 2>(const AttentionDeviceParams&, const uint8_t*, const void*,
                                            int, int, int, cudaStream_t);
template void run_distr_attention<__half, 64, 4>(const AttentionDeviceParams&, const uint8_t*, const void*,
                                            int, int, int, cudaStream_t);
template void run_distr_attention<__half, 64, 8>(const AttentionDeviceParams&, const uint8_t*, const void*,
                                            int, int, int, cudaStream_t);
template void run_distr_attention<__half, 128, 2>(const AttentionDeviceParams&, const uint8_t*, const void*,
                                            int, int, int, cudaStream_t);
template void run_distr_attention<__half, 128, 4>(const AttentionDeviceParams&, const uint8_t*, const void*,
                                            int, int, int, cudaStream_t);
template void run_distr_attention<__half, 128, 8>(const AttentionDeviceParams&, const uint8_t*, const void*,
                                            int, int, int, cudaStream_t);
}  // namespace distrvit::cuda::hopper
