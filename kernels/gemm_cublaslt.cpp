// cuBLASLt in row-major terms: row-major d[m, n] is column-major d^T (n x m), so we ask cuBLASLt for
//   d^T (n x m, ld ldd) = op_T(w^T stored k x n, ld ldw) * (a^T stored k x m, ld lda)
// i.e. cuBLASLt's "A" is our weight (transposed), its "B" our activations; the bias runs along d^T's rows = n.
#include "gemm_cublaslt.h"

#include <cstdlib>
#include <string>

#include "cuda_check.h"
#include "elementwise.h"

namespace distrvit::cuda {
namespace {

cudaDataType_t cuda_type(DataType t) {
  switch (t) {
    case DataType::F32: return CUDA_R_32F;
    case DataType::F16: return CUDA_R_16F;
    case DataType::BF16: return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

cublasLtEpilogue_t lt_epilogue(GemmEpilogue e) {
  switch (e) {
    case GemmEpilogue::None: return CUBLASLT_EPILOGUE_DEFAULT;
    case GemmEpilogue::Bias: return CUBLASLT_EPILOGUE_BIAS;
    case GemmEpilogue::BiasGeluTanh: return CUBLASLT_EPILOGUE_GELU_BIAS;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

int alignment_class(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  return v % 256 == 0 ? 256 : v % 16 == 0 ? 16 : 1;
}

}  // namespace

struct GemmLt::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t w_layout = nullptr, a_layout = nullptr, d_layout = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool fused_epilogue = true;  // false: plain product, then bias_activation

  ~Plan() {
    if (desc) cublasLtMatmulDescDestroy(desc);
    if (w_layout) cublasLtMatrixLayoutDestroy(w_layout);
    if (a_layout) cublasLtMatrixLayoutDestroy(a_layout);
    if (d_layout) cublasLtMatrixLayoutDestroy(d_layout);
  }
};

GemmLt::GemmLt(size_t workspace_bytes) : workspace_bytes_(workspace_bytes) {
  const char* env = std::getenv("DISTRVIT_GEMM_AUTOTUNE");
  autotune_ = !(env && std::string(env) == "0");
  CUBLAS_CHECK(cublasLtCreate(&handle_));
  if (workspace_bytes_ > 0) CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
}

GemmLt::~GemmLt() {
  plans_.clear();
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(handle_);
}

GemmLt::Plan& GemmLt::plan_for(const GemmParams& p, cudaStream_t stream) {
  const Key key{p.m,
                p.n,
                p.k,
                p.lda,
                p.ldw,
                p.ldd,
                int(p.ab_type) * 8 + int(p.d_type),
                int(p.epilogue),
                alignment_class(p.a) * 1000 + alignment_class(p.w),
                alignment_class(p.d) * 1000 + alignment_class(p.bias)};
  auto found = plans_.find(key);
  if (found != plans_.end()) return *found->second;

  auto plan = std::make_unique<Plan>();
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t trans_w = CUBLAS_OP_T, trans_a = CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_w, sizeof(trans_w)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_a, sizeof(trans_a)));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->w_layout, cuda_type(p.ab_type), p.k, p.n, p.ldw));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->a_layout, cuda_type(p.ab_type), p.k, p.m, p.lda));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->d_layout, cuda_type(p.d_type), p.n, p.m, p.ldd));

  cublasLtMatmulPreference_t pref = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                                    sizeof(workspace_bytes_)));

  // Up to kCandidates algorithms from the heuristic; the first is cuBLASLt's pick.
  constexpr int kCandidates = 8;
  cublasLtMatmulHeuristicResult_t results[kCandidates] = {};
  int found_count = 0;
  auto query = [&](GemmEpilogue e) {
    const cublasLtEpilogue_t epi = lt_epilogue(e);
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    if (e != GemmEpilogue::None) {
      const void* bias = p.bias;
      CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
      const int32_t bias_type = cuda_type(p.d_type);
      CUBLAS_CHECK(
          cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
    }
    found_count = 0;
    const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle_, plan->desc, plan->w_layout, plan->a_layout,
                                                                 plan->d_layout, plan->d_layout, pref, kCandidates,
                                                                 results, &found_count);
    return status == CUBLAS_STATUS_SUCCESS && found_count > 0;
  };

  bool ok = query(p.epilogue);
  if (!ok && p.epilogue != GemmEpilogue::None) {
    plan->fused_epilogue = false;
    ok = query(GemmEpilogue::None);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  if (!ok) fail("cuBLASLt", "no algorithm for a {}x{}x{} product (lda {}, ldw {}, ldd {})", p.m, p.n, p.k, p.lda, p.ldw, p.ldd);
  plan->algo = results[0].algo;
  if (found_count > 1 && autotune_) autotune(p, *plan, results, found_count, stream);
  auto& ref = *plan;
  plans_.emplace(key, std::move(plan));
  return ref;
}

// Times each candidate on the real operands (the product is the same for all, so the output stays right)
// and keeps the fastest. Skipped during graph capture, where nothing can be timed.
void GemmLt::autotune(const GemmParams& p, Plan& plan, const cublasLtMatmulHeuristicResult_t* results, int count,
                      cudaStream_t stream) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  if (capture != cudaStreamCaptureStatusNone) return;
  cudaEvent_t start = nullptr, stop = nullptr;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  const float beta = 0.0f;
  float best_ms = 1e30f;
  for (int i = 0; i < count; ++i) {
    if (results[i].state != CUBLAS_STATUS_SUCCESS) continue;
    auto launch = [&] {
      return cublasLtMatmul(handle_, plan.desc, &p.alpha, p.w, plan.w_layout, p.a, plan.a_layout, &beta, p.d,
                            plan.d_layout, p.d, plan.d_layout, &results[i].algo, workspace_, workspace_bytes_, stream);
    };
    if (launch() != CUBLAS_STATUS_SUCCESS) continue;  // a candidate that cannot run is skipped
    CUDA_CHECK(cudaEventRecord(start, stream));
    constexpr int kRepeats = 5;
    for (int r = 0; r < kRepeats; ++r) CUBLAS_CHECK(launch());
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    if (ms < best_ms) {
      best_ms = ms;
      plan.algo = results[i].algo;
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

void GemmLt::run(const GemmParams& params, cudaStream_t stream) {
  if (params.m <= 0 || params.n <= 0) return;
  GemmParams p = params;
  if (p.lda == 0) p.lda = p.k;
  if (p.ldw == 0) p.ldw = p.k;
  if (p.ldd == 0) p.ldd = p.n;
  if (p.epilogue != GemmEpilogue::None && !p.bias) fail("gemm", "a bias epilogue needs a bias pointer");
  Plan& plan = plan_for(p, stream);
  if (plan.fused_epilogue && p.epilogue != GemmEpilogue::None) {
    const void* bias = p.bias;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  }
  const float beta = 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(handle_, plan.desc, &p.alpha, p.w, plan.w_layout, p.a, plan.a_layout, &beta, p.d,
                              plan.d_layout, p.d, plan.d_layout, &plan.algo, workspace_, workspace_bytes_, stream));
  if (!plan.fused_epilogue) {
    const Activation act = p.epilogue == GemmEpilogue::BiasGeluTanh ? Activation::GeluTanh : Activation::None;
    if (p.ldd != p.n) fail("gemm", "the unfused bias fallback needs contiguous rows (ldd {} != n {})", p.ldd, p.n);
    bias_activation(p.d, p.bias, p.d_type, p.m, p.n, act, stream);
  }
}

}  // namespace distrvit::cuda
