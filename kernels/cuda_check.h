// Status checks for CUDA, cuBLAS(Lt) and cuDNN calls: every failure throws distrvit::Error with file:line.
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "distrvit/error.h"

namespace distrvit::cuda {

[[noreturn]] inline void throw_status(const char* api, const std::string& what, const char* expr, const char* file,
                                      int line) {
  throw Error(fmt::format("{}:{}: {} error {} in {}", file, line, api, what, expr));
}

inline void check(cudaError_t status, const char* expr, const char* file, int line) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so that it is not reported again at an unrelated launch check
  throw_status("CUDA", cudaGetErrorString(status), expr, file, line);
}
inline void check(cublasStatus_t status, const char* expr, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_status("cuBLAS", cublasGetStatusString(status), expr, file, line);
}
inline void check(cudnnStatus_t status, const char* expr, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) throw_status("cuDNN", cudnnGetErrorString(status), expr, file, line);
}

}  // namespace distrvit::cuda

#define CUDA_CHECK(expr) ::distrvit::cuda::check((expr), #expr, __FILE__, __LINE__)
#define CUBLAS_CHECK(expr) ::distrvit::cuda::check((expr), #expr, __FILE__, __LINE__)
#define CUDNN_CHECK(expr) ::distrvit::cuda::check((expr), #expr, __FILE__, __LINE__)
// After a kernel launch: catches launch-configuration errors at the launch site.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
