// cuDNN fused scaled-dot-product attention through the backend (graph) API, without cudnn_frontend.
//
// The graph is the one cuDNN's fused-attention engines recognise (cuDNN >= 8.9 / 9.x, fp16 / bf16):
//
//   Q [B,H,N,D] --+
//                 matmul -> S [B,H,N,N] f32 -> * scale (by value) -> S' -> max_j -> M [B,H,N,1]
//   K^T [B,H,D,N] +                                                S' - M -> exp -> E -> sum_j -> L [B,H,N,1]
//                                                                  E / L -> P [B,H,N,N] f16/bf16
//   P, V [B,H,N,D] -> matmul -> O [B,H,N,D]
//
// Every intermediate is a virtual fp32 tensor except P, which the fused engines require in the I/O dtype
// (without that, heuristics return no engine at all); Q/K/V/O keep the caller's strides (K^T is K with the last
// two dimensions' strides swapped), so the fused [B, N, 3, H, D] activation is read in place. If no engine
// accepts this inference graph, the training form (which also writes the softmax statistics
// M + log L to a scratch buffer) is tried. The heuristics (mode A) rank engine configurations; the
// first one that finalizes into an execution plan is cached per (dtype, shape, strides, alignment).
#include <cudnn.h>

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "attention_common.cuh"
#include "cuda_check.h"

namespace distrvit::cuda {
namespace {

#define CUDNN_SET(desc, attr, type, count, values) \
  CUDNN_CHECK(cudnnBackendSetAttribute((desc)->get(), attr, type, count, values))

// Owns one backend descriptor.
class BackendDesc {
 public:
  explicit BackendDesc(cudnnBackendDescriptorType_t type) { CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &desc_)); }
  ~BackendDesc() {
    if (desc_) cudnnBackendDestroyDescriptor(desc_);
  }
  BackendDesc(const BackendDesc&) = delete;
  BackendDesc& operator=(const BackendDesc&) = delete;
  cudnnBackendDescriptor_t get() const { return desc_; }

 private:
  cudnnBackendDescriptor_t desc_ = nullptr;
};
using Desc = std::shared_ptr<BackendDesc>;
Desc make_desc(cudnnBackendDescriptorType_t type) { return std::make_shared<BackendDesc>(type); }

// Unique ids of the tensors the caller binds at execution.
enum : int64_t { kUidQ = 1, kUidK = 2, kUidV = 3, kUidO = 4, kUidScale = 5, kUidStats = 6, kUidVirtual = 100 };

using Dims = std::array<int64_t, 4>;

struct GraphBuilder {
  std::vector<Desc> keep;  // every descriptor the plan may still refer to
  std::vector<Desc> ops;   // operation nodes, in order
  int64_t next_virtual = kUidVirtual;

  Desc tensor(int64_t uid, cudnnDataType_t dtype, const Dims& dims, const Dims& strides, int64_t alignment,
              bool is_virtual, bool by_value = false) {
    Desc t = make_desc(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    CUDNN_SET(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dtype);
    CUDNN_SET(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data());
    CUDNN_SET(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data());
    CUDNN_SET(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    CUDNN_SET(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
    CUDNN_SET(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
    if (by_value) CUDNN_SET(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
    CUDNN_CHECK(cudnnBackendFinalize(t->get()));
    keep.push_back(t);
    return t;
  }
  // A virtual tensor (fp32 unless said otherwise), densely strided.
  Desc virt(const Dims& dims, cudnnDataType_t dtype = CUDNN_DATA_FLOAT) {
    const Dims strides = {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
    return tensor(next_virtual++, dtype, dims, strides, 16, true);
  }

  void add_op(const Desc& op) {
    CUDNN_CHECK(cudnnBackendFinalize(op->get()));
    keep.push_back(op);
    ops.push_back(op);
  }

  void matmul(const Desc& a, const Desc& b, const Desc& c) {
    Desc mm = make_desc(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
    const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    CUDNN_SET(mm, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
    CUDNN_CHECK(cudnnBackendFinalize(mm->get()));
    keep.push_back(mm);
    Desc op = make_desc(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
    const cudnnBackendDescriptor_t ad = a->get(), bd = b->get(), cd = c->get(), md = mm->get();
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ad);
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &bd);
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cd);
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &md);
    add_op(op);
  }

  // y = x (mode) b, or y = mode(x) when b is null.
  void pointwise(cudnnPointwiseMode_t mode, const Desc& x, const Desc& b, const Desc& y) {
    Desc pw = make_desc(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    CUDNN_SET(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    CUDNN_SET(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
    CUDNN_CHECK(cudnnBackendFinalize(pw->get()));
    keep.push_back(pw);
    Desc op = make_desc(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    const cudnnBackendDescriptor_t pd = pw->get(), xd = x->get(), yd = y->get();
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pd);
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xd);
    if (b) {
      const cudnnBackendDescriptor_t bd = b->get();
      CUDNN_SET(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &bd);
    }
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yd);
    add_op(op);
  }

  void reduction(cudnnReduceTensorOp_t reduce, const Desc& x, const Desc& y) {
    Desc red = make_desc(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
    const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    CUDNN_SET(red, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &reduce);
    CUDNN_SET(red, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
    CUDNN_CHECK(cudnnBackendFinalize(red->get()));
    keep.push_back(red);
    Desc op = make_desc(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
    const cudnnBackendDescriptor_t rd = red->get(), xd = x->get(), yd = y->get();
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xd);
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yd);
    CUDNN_SET(op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &rd);
    add_op(op);
  }
};

struct PlanKey {
  DataType dtype;
  int batch, heads, tokens, head_dim;
  std::array<int64_t, 6> strides;
  int64_t alignment;
  bool operator<(const PlanKey& o) const {
    return std::tie(dtype, batch, heads, tokens, head_dim, strides, alignment) <
           std::tie(o.dtype, o.batch, o.heads, o.tokens, o.head_dim, o.strides, o.alignment);
  }
};

struct Plan {
  std::vector<Desc> keep;  // graph, tensors, ops, engine config
  Desc plan;
  int64_t workspace = 0;
  bool with_stats = false;
};

int64_t common_alignment(const AttentionDeviceParams& p) {
  const size_t elem = data_type_size(p.dtype);
  int64_t a = 16;
  auto fit = [&](uintptr_t bytes) {
    while (a > 1 && bytes % uintptr_t(a) != 0) a /= 2;
  };
  for (const void* ptr : {p.q, p.k, p.v, static_cast<const void*>(p.out)}) fit(reinterpret_cast<uintptr_t>(ptr));
  for (int64_t s : {p.qkv_batch_stride, p.qkv_token_stride, p.qkv_head_stride, p.out_batch_stride,
                    p.out_token_stride, p.out_head_stride})
    fit(uintptr_t(s) * elem);
  return a;
}

// Builds the graph of the file comment; with_stats adds the softmax statistics output (training form).
// Returns false (and the reason) when no engine configuration finalizes into a plan.
bool build_plan(cudnnHandle_t handle, const AttentionDeviceParams& p, int64_t alignment, bool with_stats, Plan& out,
                std::string& why) {
  const int64_t B = p.batch, H = p.heads, N = p.tokens, D = p.head_dim;
  const cudnnDataType_t io = p.dtype == DataType::F16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
  GraphBuilder g;
  const Dims qkv_strides = {p.qkv_batch_stride, p.qkv_head_stride, p.qkv_token_stride, 1};
  const Dims kt_strides = {p.qkv_batch_stride, p.qkv_head_stride, 1, p.qkv_token_stride};
  const Dims o_strides = {p.out_batch_stride, p.out_head_stride, p.out_token_stride, 1};
  Desc q = g.tensor(kUidQ, io, {B, H, N, D}, qkv_strides, alignment, false);
  Desc kt = g.tensor(kUidK, io, {B, H, D, N}, kt_strides, alignment, false);
  Desc v = g.tensor(kUidV, io, {B, H, N, D}, qkv_strides, alignment, false);
  Desc o = g.tensor(kUidO, io, {B, H, N, D}, o_strides, alignment, false);
  Desc scale = g.tensor(kUidScale, CUDNN_DATA_FLOAT, {1, 1, 1, 1}, {1, 1, 1, 1}, 16, false, /*by_value=*/true);

  Desc s = g.virt({B, H, N, N});
  g.matmul(q, kt, s);
  Desc s_scaled = g.virt({B, H, N, N});
  g.pointwise(CUDNN_POINTWISE_MUL, s, scale, s_scaled);
  Desc row_max = g.virt({B, H, N, 1});
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, s_scaled, row_max);
  Desc shifted = g.virt({B, H, N, N});
  g.pointwise(CUDNN_POINTWISE_SUB, s_scaled, row_max, shifted);
  Desc e = g.virt({B, H, N, N});
  g.pointwise(CUDNN_POINTWISE_EXP, shifted, nullptr, e);
  Desc row_sum = g.virt({B, H, N, 1});
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, e, row_sum);
  if (with_stats) {  // stats = max + log(sum), [B,H,N,1] fp32
    Desc log_sum = g.virt({B, H, N, 1});
    g.pointwise(CUDNN_POINTWISE_LOG, row_sum, nullptr, log_sum);
    Desc stats = g.tensor(kUidStats, CUDNN_DATA_FLOAT, {B, H, N, 1}, {H * N, N, 1, 1}, 16, false);
    g.pointwise(CUDNN_POINTWISE_ADD, row_max, log_sum, stats);
  }
  Desc probs = g.virt({B, H, N, N}, io);  // the backend wants the second matmul's A in the I/O dtype
  g.pointwise(CUDNN_POINTWISE_DIV, e, row_sum, probs);
  g.matmul(probs, v, o);

  Desc graph = make_desc(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  std::vector<cudnnBackendDescriptor_t> op_list;
  for (const Desc& op : g.ops) op_list.push_back(op->get());
  CUDNN_SET(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, int64_t(op_list.size()),
            op_list.data());
  CUDNN_SET(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  CUDNN_CHECK(cudnnBackendFinalize(graph->get()));
  g.keep.push_back(graph);

  Desc heur = make_desc(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  const cudnnBackendDescriptor_t graph_d = graph->get();
  const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
  CUDNN_SET(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph_d);
  CUDNN_SET(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  CUDNN_CHECK(cudnnBackendFinalize(heur->get()));
  int64_t count = 0;
  CUDNN_CHECK(cudnnBackendGetAttribute(heur->get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                       &count, nullptr));
  if (count <= 0) {
    why = "heuristics returned no engine configuration";
    return false;
  }
  std::vector<Desc> configs;
  std::vector<cudnnBackendDescriptor_t> config_ds;
  for (int64_t i = 0; i < count; ++i) {
    configs.push_back(make_desc(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
    config_ds.push_back(configs.back()->get());
  }
  int64_t returned = 0;
  CUDNN_CHECK(cudnnBackendGetAttribute(heur->get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                       count, &returned, config_ds.data()));
  for (int64_t i = 0; i < returned; ++i) {
    Desc plan = make_desc(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    CUDNN_SET(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
    CUDNN_SET(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &config_ds[i]);
    const cudnnStatus_t status = cudnnBackendFinalize(plan->get());  // an engine may decline: try the next
    if (status != CUDNN_STATUS_SUCCESS) {
      why += fmt::format("{}config {}: {}", why.empty() ? "" : "; ", i, cudnnGetErrorString(status));
      continue;
    }
    int64_t n = 0;
    CUDNN_CHECK(cudnnBackendGetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                         &n, &out.workspace));
    out.keep = std::move(g.keep);
    out.keep.push_back(heur);
    out.keep.push_back(configs[i]);
    out.plan = plan;
    out.with_stats = with_stats;
    return true;
  }
  if (why.empty()) why = "no engine configuration returned";
  return false;
}

}  // namespace

struct CudnnAttention::Impl {
  cudnnHandle_t handle = nullptr;
  std::mutex mutex;
  std::map<PlanKey, Plan> plans;
  void* workspace = nullptr;  // device, grown on demand
  size_t workspace_bytes = 0;
  float* stats = nullptr;  // device scratch for the training-form graph
  size_t stats_bytes = 0;

  static void grow(void*& ptr, size_t& have, size_t need) {
    if (need <= have) return;
    if (ptr) CUDA_CHECK(cudaFree(ptr));  // synchronises: earlier executions are done with it
    ptr = nullptr;
    have = 0;
    CUDA_CHECK(cudaMalloc(&ptr, need));
    have = need;
  }
};

CudnnAttention::CudnnAttention() : impl_(std::make_unique<Impl>()) { CUDNN_CHECK(cudnnCreate(&impl_->handle)); }

CudnnAttention::~CudnnAttention() {
  impl_->plans.clear();
  if (impl_->workspace) cudaFree(impl_->workspace);
  if (impl_->stats) cudaFree(impl_->stats);
  if (impl_->handle) cudnnDestroy(impl_->handle);
}

void CudnnAttention::run(const AttentionDeviceParams& p, cudaStream_t stream) {
  check_attention_params(p, "CudnnAttention");
  if (p.dtype == DataType::F32) fail("CudnnAttention", "F32 is not supported (F16 / BF16 only)");
  if (int64_t(p.batch) * p.heads * p.tokens == 0) return;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const int64_t alignment = common_alignment(p);
  const PlanKey key{p.dtype,
                    p.batch,
                    p.heads,
                    p.tokens,
                    p.head_dim,
                    {p.qkv_batch_stride, p.qkv_token_stride, p.qkv_head_stride, p.out_batch_stride,
                     p.out_token_stride, p.out_head_stride},
                    alignment};
  auto it = impl_->plans.find(key);
  if (it == impl_->plans.end()) {
    Plan plan;
    std::string why_inference, why_training;
    if (!build_plan(impl_->handle, p, alignment, false, plan, why_inference) &&
        !build_plan(impl_->handle, p, alignment, true, plan, why_training))
      fail("CudnnAttention", "no cuDNN {} engine for B={} H={} N={} D={} ({}): inference graph: {}; training graph: {}",
           cudnnGetVersion(), p.batch, p.heads, p.tokens, p.head_dim, p.dtype == DataType::F16 ? "f16" : "bf16",
           why_inference, why_training);
    it = impl_->plans.emplace(key, std::move(plan)).first;
  }
  const Plan& plan = it->second;
  Impl::grow(impl_->workspace, impl_->workspace_bytes, size_t(plan.workspace));
  if (plan.with_stats) {
    void* stats = impl_->stats;
    Impl::grow(stats, impl_->stats_bytes, size_t(p.batch) * p.heads * p.tokens * sizeof(float));
    impl_->stats = static_cast<float*>(stats);
  }

  CUDNN_CHECK(cudnnSetStream(impl_->handle, stream));
  float scale = p.scale;
  std::vector<int64_t> uids = {kUidQ, kUidK, kUidV, kUidO, kUidScale};
  std::vector<void*> ptrs = {const_cast<void*>(p.q), const_cast<void*>(p.k), const_cast<void*>(p.v), p.out, &scale};
  if (plan.with_stats) {
    uids.push_back(kUidStats);
    ptrs.push_back(impl_->stats);
  }
  Desc pack = make_desc(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  void* ws = impl_->workspace;
  CUDNN_SET(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, int64_t(uids.size()), uids.data());
  CUDNN_SET(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, int64_t(ptrs.size()), ptrs.data());
  CUDNN_SET(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
  CUDNN_CHECK(cudnnBackendFinalize(pack->get()));
  CUDNN_CHECK(cudnnBackendExecute(impl_->handle, plan.plan->get(), pack->get()));
}

}  // namespace distrvit::cuda
