// cuBLASLt in row-major terms: row-major d[m, n] is column-major d^T (n x m), so we ask cuBLASLt for
//   d^T (n x m, ld ldd) = op_T(w^T stored k x n, ld ldw) * (a^T stored k x m, ld lda)
// i.e. cuBLASLt's "A" is our weight (transposed), its "B" our activations; the bias runs along d^T's rows = n.
#include "gemm_cublaslt.h"

#include <cstdlib>
#include <string>

#include "cuda_check.h"
#include "elementwise.h"
#include "gemm_hopper.h"

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
    case GemmEpilogue::Bias:
    case GemmEpilogue::BiasGeluErf: return CUBLASLT_EPILOGUE_BIAS;  // then the erf pass
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
  bool hopper = false;  // by gemm_bias_hopper instead of cuBLASLt (+ the erf pass for BiasGeluErf)

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
  if (const char* kernel = std::getenv("DISTRVIT_GEMM_KERNEL")) {
    kernel_mode_ = kernel;
    if (kernel_mode_ != "hopper" && kernel_mode_ != "cublas")
      fail("DISTRVIT_GEMM_KERNEL", "'{}' is neither 'hopper' nor 'cublas'", kernel_mode_);
  }
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
  choose_kernel(p, *plan, stream);
  auto& ref = *plan;
  plans_.emplace(key, std::move(plan));
  return ref;
}

namespace {

bool capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  return capture != cudaStreamCaptureStatusNone;
}

// A start/stop pair of timing events, destroyed with it.
struct TimingEvents {
  cudaEvent_t start = nullptr, stop = nullptr;
  TimingEvents() {
    CUDA_CHECK(cudaEventCreate(&start));
    try {
      CUDA_CHECK(cudaEventCreate(&stop));
    } catch (...) {
      cudaEventDestroy(start);
      throw;
    }
  }
  ~TimingEvents() {
    cudaEventDestroy(start);  // a destructor cannot throw; the pair was created without error
    cudaEventDestroy(stop);
  }
  TimingEvents(const TimingEvents&) = delete;
  TimingEvents& operator=(const TimingEvents&) = delete;
};

// Milliseconds per call, from a CUDA graph of kCalls back-to-back calls launched kLaunches times after one untimed
// launch: in a graph, as in the forward, launch overhead is small and dependent launches overlap, where eager calls
// at batch 1 mostly time their launches.
template <typename Launch>
float time_calls_in_graph(const Launch& launch, cudaStream_t stream) {
  constexpr int kCalls = 10, kLaunches = 3;
  const TimingEvents events;
  const cudaEvent_t start = events.start, stop = events.stop;
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    for (int i = 0; i < kCalls; ++i) launch();
  } catch (...) {
    cudaStreamEndCapture(stream, &graph);
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
  CUDA_CHECK(cudaGraphDestroy(graph));
  CUDA_CHECK(instantiated);
  CUDA_CHECK(cudaGraphLaunch(exec, stream));
  CUDA_CHECK(cudaEventRecord(start, stream));
  for (int i = 0; i < kLaunches; ++i) CUDA_CHECK(cudaGraphLaunch(exec, stream));
  CUDA_CHECK(cudaEventRecord(stop, stream));
  CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  CUDA_CHECK(cudaGraphExecDestroy(exec));
  return ms / (kCalls * kLaunches);
}

}  // namespace

// Times each candidate on the real operands (the product is the same for all, so the output stays right)
// and keeps the fastest. Skipped during graph capture, where nothing can be timed.
void GemmLt::autotune(const GemmParams& p, Plan& plan, const cublasLtMatmulHeuristicResult_t* results, int count,
                      cudaStream_t stream) {
  if (capturing(stream)) return;
  const float beta = 0.0f;
  float best_ms = 1e30f;
  for (int i = 0; i < count; ++i) {
    if (results[i].state != CUBLAS_STATUS_SUCCESS) continue;
    auto launch = [&] {
      return cublasLtMatmul(handle_, plan.desc, &p.alpha, p.w, plan.w_layout, p.a, plan.a_layout, &beta, p.d,
                            plan.d_layout, p.d, plan.d_layout, &results[i].algo, workspace_, workspace_bytes_, stream);
    };
    if (launch() != CUBLAS_STATUS_SUCCESS) continue;  // a candidate that cannot run is skipped
    const float ms = time_calls_in_graph([&] { CUBLAS_CHECK(launch()); }, stream);
    if (ms < best_ms) {
      best_ms = ms;
      plan.algo = results[i].algo;
    }
  }
}

// Our Hopper kernel where it fits and, unless DISTRVIT_GEMM_KERNEL says which, it is faster on this shape than
// cuBLASLt's product (+ the erf pass for the exact GELU). Both are timed here on the real operands; under graph
// capture, where nothing can be timed, ours.
void GemmLt::choose_kernel(const GemmParams& p, Plan& plan, cudaStream_t stream) {
  plan.hopper = false;
  if (kernel_mode_ == "cublas" || !gemm_bias_hopper_fits(p)) return;
  if (kernel_mode_ == "hopper" || capturing(stream)) {
    plan.hopper = true;
    return;
  }
  const float cublas_ms = time_calls_in_graph([&] { run_cublas(p, plan, stream); }, stream);
  const float hopper_ms = time_calls_in_graph([&] { gemm_bias_hopper(p, stream); }, stream);
  plan.hopper = hopper_ms < cublas_ms;
}

void GemmLt::run(const GemmParams& params, cudaStream_t stream) {
  if (params.m <= 0 || params.n <= 0) return;
  const GemmParams p = with_default_strides(params);
  if (p.epilogue != GemmEpilogue::None && !p.bias) fail("gemm", "a bias epilogue needs a bias pointer");
  Plan& plan = plan_for(p, stream);
  if (plan.hopper && gemm_bias_hopper(p, stream)) return;
  run_cublas(p, plan, stream);
}

// The cuBLASLt product with its epilogue, then whatever of the epilogue it could not fuse.
void GemmLt::run_cublas(const GemmParams& p, Plan& plan, cudaStream_t stream) {
  if (plan.fused_epilogue && p.epilogue != GemmEpilogue::None) {
    const void* bias = p.bias;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  }
  const float beta = 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(handle_, plan.desc, &p.alpha, p.w, plan.w_layout, p.a, plan.a_layout, &beta, p.d,
                              plan.d_layout, p.d, plan.d_layout, &plan.algo, workspace_, workspace_bytes_, stream));
  const Activation act = p.epilogue == GemmEpilogue::BiasGeluTanh  ? Activation::GeluTanh
                         : p.epilogue == GemmEpilogue::BiasGeluErf ? Activation::GeluErf
                                                                   : Activation::None;
  const bool bias_left = !plan.fused_epilogue && p.epilogue != GemmEpilogue::None;
  const bool erf_left = p.epilogue == GemmEpilogue::BiasGeluErf;  // cuBLASLt fused at most the bias
  if (!bias_left && !erf_left) return;
  if (p.ldd != p.n) fail("gemm", "the unfused epilogue pass needs contiguous rows (ldd {} != n {})", p.ldd, p.n);
  bias_activation(p.d, bias_left ? p.bias : nullptr, p.d_type, p.m, p.n, act, stream);
}

}  // namespace distrvit::cuda
