// Programmatic dependent launch (Hopper): a kernel launched this way may start while the kernel before it on the
// stream is still finishing, so its launch and set-up hide behind that kernel's tail -- at batch 1 the forward is
// a chain of ~100 kernels of a few microseconds each, and the gaps between them are a large part of its time.
// Such a kernel must call wait_for_preceding_kernels() (or wait_then_release_next_kernel()) before it touches global
// memory that earlier work writes or reads; past that point every earlier kernel on the stream is complete and its
// writes visible. Kernels that are not launched this way (cuBLAS, cuDNN) still wait for all of ours as usual.
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "cuda_check.h"

namespace distrvit::cuda {

// True on compute capability 9.0 and up unless DISTRVIT_PDL=0.
bool dependent_launch_enabled();

// kernel<<<grid, block, smem_bytes, stream>>>(args...), as a programmatic dependent launch where enabled.
template <typename... Params, typename... Args>
void launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem_bytes, cudaStream_t stream,
                      Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem_bytes;
  config.stream = stream;
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &attribute;
  config.numAttrs = dependent_launch_enabled() ? 1 : 0;
  CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

#if defined(__CUDACC__)
// Blocks until the kernels before this one on the stream have completed (a no-op without a dependent launch).
__device__ __forceinline__ void wait_for_preceding_kernels() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// wait_for_preceding_kernels(), then lets the next kernel on the stream, if it is a dependent launch, be placed on
// the SMs as this one's blocks leave room and run up to its own wait, which still covers all of this kernel.
__device__ __forceinline__ void wait_then_release_next_kernel() {
  wait_for_preceding_kernels();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
#endif

}  // namespace distrvit::cuda
