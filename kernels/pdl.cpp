#include "pdl.cuh"

#include <cstdlib>
#include <cstring>

namespace distrvit::cuda {

bool dependent_launch_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("DISTRVIT_PDL");
    if (env && std::strcmp(env, "0") == 0) return false;
    int device = 0, major = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    return major >= 9;
  }();
  return enabled;
}

}  // namespace distrvit::cuda
