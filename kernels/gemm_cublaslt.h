// Matrix products of the forward pass through cuBLASLt, with the bias (and optionally the tanh-GELU)
// fused into the epilogue:
//   d[m, n] = sum_k a[m, k] * w[n, k] (+ bias[n]) (then gelu_tanh or gelu_erf)
// a, w and d row-major with leading dimensions lda, ldw, ldd (elements). Accumulation in float32
// (CUBLAS_COMPUTE_32F; no TF32 for float32 inputs). The bias has the dtype of d.
// An epilogue that cuBLASLt has no kernel for falls back to a plain product + bias_activation (elementwise.h).
// The exact (erf) GELU, which cuBLASLt lacks, is cuBLASLt's bias epilogue + an erf pass.
// 16-bit products with a bias (and the erf GELU) may instead run on our Hopper kernel (gemm_hopper.h): whichever
// timed faster on the first call of the shape, in a CUDA graph (DISTRVIT_GEMM_KERNEL=hopper|cublas forces one).
// CPU reference: linear_cpu in distrvit/ops_cpu.h; tested in tests/gpu/test_ops_gpu.cpp ("gemm_*").
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "attention_cuda.h"  // DataType

namespace distrvit::cuda {

enum class GemmEpilogue { None, Bias, BiasGeluTanh, BiasGeluErf };

struct GemmParams {
  int m = 0, n = 0, k = 0;
  const void* a = nullptr;  // [m, k] (row stride lda) of ab_type: activations
  const void* w = nullptr;  // [n, k] (row stride ldw) of ab_type: weights, nn.Linear layout
  void* d = nullptr;        // [m, n] (row stride ldd) of d_type
  const void* bias = nullptr;  // [n] of d_type (every epilogue but None)
  int64_t lda = 0, ldw = 0, ldd = 0;  // 0: k, k, n
  DataType ab_type = DataType::F16;
  DataType d_type = DataType::F16;
  GemmEpilogue epilogue = GemmEpilogue::None;
  float alpha = 1.0f;
};

// p with its zero leading dimensions replaced by the packed ones (k, k, n).
inline GemmParams with_default_strides(GemmParams p) {
  if (p.lda == 0) p.lda = p.k;
  if (p.ldw == 0) p.ldw = p.k;
  if (p.ldd == 0) p.ldd = p.n;
  return p;
}

// One cuBLASLt handle, one workspace, and a cache of (descriptors, algorithm) per problem shape.
// Not thread-safe; use from the thread that owns the stream. Capturable in CUDA graphs once a shape was
// run outside capture: the first run of a shape asks the heuristic for up to 8 algorithms and times each
// on the real operands (5 runs), keeping the fastest (DISTRVIT_GEMM_AUTOTUNE=0: the heuristic's first).
class GemmLt {
 public:
  explicit GemmLt(size_t workspace_bytes = size_t(32) << 20);
  ~GemmLt();
  GemmLt(const GemmLt&) = delete;
  GemmLt& operator=(const GemmLt&) = delete;

  void run(const GemmParams& p, cudaStream_t stream);

 private:
  struct Plan;
  using Key = std::tuple<int, int, int, int64_t, int64_t, int64_t, int, int, int, int>;
  Plan& plan_for(const GemmParams& p, cudaStream_t stream);
  void autotune(const GemmParams& p, Plan& plan, const cublasLtMatmulHeuristicResult_t* results, int count,
                cudaStream_t stream);
  void choose_kernel(const GemmParams& p, Plan& plan, cudaStream_t stream);
  void run_cublas(const GemmParams& p, Plan& plan, cudaStream_t stream);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  bool autotune_ = true;  // DISTRVIT_GEMM_AUTOTUNE=0: take cuBLASLt's first heuristic choice
  std::string kernel_mode_;  // DISTRVIT_GEMM_KERNEL: "hopper", "cublas" or empty (timed)
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace distrvit::cuda
