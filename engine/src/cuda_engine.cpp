// The CUDA backend: one stream, weights in one device allocation, activations preallocated per batch size,
// the forward pass captured as a CUDA graph per (batch, attention plan, captured layer) and replayed.
//
// Precision: matrices (weights and activations between kernels) in options.precision (fp32/fp16/bf16);
// the residual stream, LayerNorm parameters and statistics, softmax statistics and every accumulation in
// float32; logits in float32. GELU is timm's exact erf form, fused into the fc1 product on Hopper in 16-bit
// precisions where that times faster (gemm_cublaslt.h), else a separate pass after cuBLASLt's bias epilogue;
// DISTRVIT_CUDA_GELU=tanh uses cuBLASLt's fused tanh-GELU epilogue instead.
//
// The input reaches act_.cols (the unfolded patches, in the working precision) in two ways: forward unfolds and
// converts the float input on the host into a pinned staging buffer, whose upload is the graph's first node
// (patch_staging.h); forward_images uploads the uint8 pixels, preprocesses them on the GPU (cuda_preprocess.h) and
// unfolds them there, outside the graph.
//
// Timing (last_timing): total_ms = CUDA events around the whole forward on the device (input upload from the
// pinned staging buffer -- for forward_images the pixel upload, the preprocessing and the unfolding --, compute,
// logits download; not the host's unfolding of the input into that buffer).
// DISTRVIT_CUDA_TIMING=device: total_ms covers the device compute only (after the upload, before the download),
// comparable with frameworks timed on an input already on the device.
// attention_ms comes from an un-graphed pass with events around each layer's attention: the first forward of a
// (batch, plan, captured layer) runs once un-graphed to warm up (cuBLASLt autotuning, cuDNN plans), once
// un-graphed and timed, then is captured; replays report that timed pass's attention_ms.
// DISTRVIT_CUDA_GRAPHS=0 turns graphs off: every forward then runs un-graphed and times its attention.
// DISTRVIT_CUDA_KV_SPLITS=1 gives the exact kernel the workspace to split keys over blocks at small batch
// (attention_exact). Off by default: on an H100 it made batch 1 slower (ViT-Ti 0.299 vs 0.290 ms, ViT-B 0.488 vs
// 0.475 ms; BENCHMARKS.md): the merge kernel costs more than the idle SMs it fills.
//
// capture_cls_attention(layer) runs cls_attention_probs (the exact softmax of the class token's scores) on that
// layer's q, k, whatever attention the plan runs there (the CPU engine gives a Distr head's own probabilities).
//
// Attention by plan: Exact -> attention_exact, Cudnn -> CudnnAttention, Naive -> attention_naive,
// Distr -> attention_distr (compiled in when kernels/attention_distr.cu exists), LowRank -> attention_exact on
// q/k projected by weights folded when the plan is set (FoldedQkv). A layer whose heads agree is one
// call; otherwise each run of equal consecutive heads (exact and low-rank count as equal: both run the exact
// kernel) is one call with q/k/v/out offset to its first head.
// After the last attention only the class token feeds the head: with one prefix token the last block's
// projection, MLP and the final LayerNorm run on B rows instead of B*T.
#include "cuda_engine.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "attention_cuda.h"
#include "convert.h"
#include "cuda_check.h"
#include "cuda_preprocess.h"
#include "distrvit/attention_plan.h"
#include "distrvit/distr.h"
#include "distrvit/error.h"
#include "elementwise.h"
#include "gemm_cublaslt.h"
#include "layernorm.h"
#include "patch_embed.h"
#include "patch_staging.h"

// attention_distr is declared in attention_cuda.h; it is defined (and linked) once kernels/attention_distr.cu
// exists, which the kernels library globs.
#if __has_include("attention_distr.cu")
#define DISTRVIT_CUDA_HAS_DISTR 1
#else
#define DISTRVIT_CUDA_HAS_DISTR 0
#endif

namespace distrvit {

bool cuda_device_present() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return false;
  }
  return count > 0;
}

namespace {

using cuda::DataType;

DataType data_type(Precision precision) {
  switch (precision) {
    case Precision::F32: return DataType::F32;
    case Precision::F16: return DataType::F16;
    case Precision::BF16: return DataType::BF16;
  }
  return DataType::F32;
}

bool env_is(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, value) == 0;
}

constexpr size_t kAlign = 256;
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Width K of the classifier's input pre [B, K]: the head tokens side by side, or the patch mean.
int64_t classifier_width(const VitConfig& c) { return int64_t(std::max(1, c.head_tokens())) * c.embed_dim; }

// Device pointers of one transformer block, all inside the weight allocation. T = the engine's dtype.
struct DeviceBlock {
  const float* ln1_w = nullptr;  // [E]
  const float* ln1_b = nullptr;  // [E]
  const void* qkv_w = nullptr;   // [3E, E] T
  const void* qkv_b = nullptr;   // [3E] T
  const void* proj_w = nullptr;  // [E, E] T
  const void* proj_b = nullptr;  // [E] T
  const float* ln2_w = nullptr;  // [E]
  const float* ln2_b = nullptr;  // [E]
  const void* fc1_w = nullptr;   // [M, E] T
  const void* fc1_b = nullptr;   // [M] T
  const void* fc2_w = nullptr;   // [E, M] T
  const void* fc2_b = nullptr;   // [E] T
};

struct DeviceWeights {
  const void* patch_w = nullptr;  // [E, C*P*P] T (conv weight [E, C, P, P] flattened)
  const void* patch_b = nullptr;  // [E] T
  const float* prefix = nullptr;  // [prefix, E] class token, distillation token, registers (those present)
  const float* pos = nullptr;     // [tokens, E]
  const float* norm_pre_w = nullptr;  // [E] (pre_norm only)
  const float* norm_pre_b = nullptr;
  std::vector<DeviceBlock> blocks;
  const float* norm_w = nullptr;  // [E]
  const float* norm_b = nullptr;  // [E]
  const void* head_w = nullptr;   // [classes, K] T; distilled: [head_w | head_dist_w] / 2
  const float* head_b = nullptr;  // [classes]; distilled: (head_b + head_dist_b) / 2
};

// Lays tensors out in one allocation, then uploads them (float32 staging, converted on the device).
class WeightUploader {
 public:
  explicit WeightUploader(DataType dtype) : dtype_(dtype) {}

  // Returns the future device offset of values[0, count) stored as `type`; `values` must outlive upload().
  size_t add(const float* values, size_t count, DataType type) {
    const size_t offset = size_;
    size_ = align_up(size_ + count * cuda::data_type_size(type));
    staged_ += count;
    entries_.push_back({values, count, type, offset});
    return offset;
  }
  size_t add(std::vector<float> owned, DataType type) {  // derived values, kept here until upload()
    owned_.push_back(std::make_unique<std::vector<float>>(std::move(owned)));
    return add(owned_.back()->data(), owned_.back()->size(), type);
  }
  size_t add_matrix(const Tensor& t) { return add(t.ptr(), t.data.size(), dtype_); }
  size_t add_f32(const Tensor& t) { return add(t.ptr(), t.data.size(), DataType::F32); }

  // Allocates, uploads, converts; returns the allocation (owned by the caller).
  void* upload(cudaStream_t stream) {
    void* arena = nullptr;
    CUDA_CHECK(cudaMalloc(&arena, size_));
    std::vector<float> host(staged_);
    float* staging = nullptr;
    CUDA_CHECK(cudaMalloc(&staging, staged_ * sizeof(float)));
    size_t at = 0;
    for (const Entry& e : entries_) {
      std::copy(e.values, e.values + e.count, host.begin() + at);
      at += e.count;
    }
    CUDA_CHECK(cudaMemcpy(staging, host.data(), staged_ * sizeof(float), cudaMemcpyHostToDevice));
    at = 0;
    for (const Entry& e : entries_) {
      char* dst = static_cast<char*>(arena) + e.offset;
      if (e.type == DataType::F32) {
        CUDA_CHECK(cudaMemcpyAsync(dst, staging + at, e.count * sizeof(float), cudaMemcpyDeviceToDevice, stream));
      } else {
        cuda::convert_from_f32(staging + at, dst, e.type, int64_t(e.count), stream);
      }
      at += e.count;
    }
    CUDA_CHECK(cudaStreamSynchronize(stream));
    CUDA_CHECK(cudaFree(staging));
    return arena;
  }

 private:
  struct Entry {
    const float* values;
    size_t count;
    DataType type;
    size_t offset;
  };
  DataType dtype_;
  size_t size_ = 0;
  size_t staged_ = 0;
  std::vector<Entry> entries_;
  std::vector<std::unique_ptr<std::vector<float>>> owned_;
};

// Low-rank heads of calibrated plans, folded into the weights: in each layer with such heads, a copy of the qkv
// weight and bias whose q and k rows of a low-rank head h are replaced by U_h^T times them (rank rows, then
// zeros), so q_h' k_h'^T = (q_h U_h)(k_h U_h)^T and the exact kernel reads only the first columns.
struct FoldedQkv {
  std::shared_ptr<const LowRankProjections> projections;  // held: its address identifies the fold
  std::string heads;                                      // "layer.head:rank," of every low-rank head
  void* arena = nullptr;
  std::vector<const void*> w, b;  // per layer: qkv weight [3E, E] T, bias [3E] T; null = not folded
};

// Activations for `capacity` images, one device allocation; pinned host buffers for input and outputs.
struct Activations {
  int capacity = 0;
  void* device = nullptr;
  void* host = nullptr;
  float* image = nullptr;      // [B, C, H, W]     forward_images' preprocessed input
  void* cols = nullptr;        // [B*Np, C*P*P] T  unfolded patches
  void* patches = nullptr;     // [B*Np, E] T      patch embeddings
  float* x = nullptr;          // [B*T, E]         residual stream (fp32)
  void* ln = nullptr;          // [B*T, E] T       LayerNorm output
  void* qkv = nullptr;         // [B*T, 3E] T      = [B, T, 3, H, D]
  void* att = nullptr;         // [B*T, E] T       = [B, T, H, D]
  void* y = nullptr;           // [B*T, E] T       proj / fc2 output
  void* hidden = nullptr;      // [B*T, M] T       fc1 output
  void* pre = nullptr;         // [B, K] T         the classifier's input: K = head tokens x E, or E (patch mean)
  float* pooled = nullptr;     // [B, E]           patch mean before the final norm (norm_after_pooling)
  float* logits = nullptr;     // [B, classes]
  float* probs = nullptr;      // [B, H, T]        class-token attention probabilities
  void* host_cols = nullptr;     // pinned [B*Np, C*P*P] T
  float* host_logits = nullptr;  // pinned [B, classes]
  float* host_probs = nullptr;   // pinned [B, H, T]
};

class CudaEngine final : public Engine {
 public:
  CudaEngine(std::shared_ptr<const VitModel> model, const EngineOptions& options);
  ~CudaEngine() override;

  Tensor forward(const Tensor& input) override;
  Tensor forward_images(const std::vector<const ImageU8*>& images) override;
  void set_attention(const AttentionPlan& plan) override;
  const AttentionPlan& attention() const override { return plan_; }
  void capture_cls_attention(int layer) override {
    if (layer >= 0 && !model_->config.class_token) {
      fail(model_->source, "no class token, so no attention of it to capture");
    }
    capture_layer_ = layer;
  }
  Tensor captured_cls_attention() const override { return captured_; }
  ForwardTiming last_timing() const override { return timing_; }
  std::string device_name() const override { return device_name_; }
  const VitModel& model() const override { return *model_; }

 private:
  // batch, plan signature, captured layer, input upload in the graph
  using GraphKey = std::tuple<int, std::string, int, bool>;

  void upload_weights();
  void ensure_capacity(int batch);
  void free_activations();
  void clear_graphs();
  void* at(void* base, int64_t elements) const { return static_cast<char*>(base) + elements * elsize_; }

  void enqueue(int batch, bool timed);  // the whole forward on stream_, from act_.cols on the device
  void enqueue_cols_upload(int batch);   // act_.host_cols -> act_.cols
  void linear(const void* a, int64_t lda, const void* w, const void* bias, void* d, int m, int n, int k,
              cuda::GemmEpilogue epilogue);
  void attention(int layer, int batch, bool timed);
  void run_attention(const AttentionSpec& spec, const cuda::AttentionDeviceParams& p);
  void* attention_workspace(size_t bytes);
  void fold_lowrank(const AttentionPlan& plan, const std::string& heads);
  const float* distr_projection_on_device(const DistrParams& distr);
  // Runs enqueue_input (which fills act_.cols) and the forward, graphed when possible, timed from before the input.
  // input_capturable: enqueue_input does the same copies every call, so it can be part of the graph.
  Tensor run_forward(int batch, const std::function<void()>& enqueue_input, bool input_capturable);
  void run_eager(int batch, bool timed, const std::function<void()>& enqueue_input);
  double elapsed_total_ms();
  void record_timing_event(cudaEvent_t event);
  cudaGraphExec_t capture(int batch, const std::function<void()>* enqueue_input);
  int captured_layer() const { return capture_layer_ >= 0 && capture_layer_ < model_->config.depth ? capture_layer_ : -1; }

  std::shared_ptr<const VitModel> model_;
  EngineOptions options_;
  DataType dtype_;
  size_t elsize_;
  bool gelu_tanh_ = false;
  bool graphs_enabled_ = true;
  bool kv_splits_ = false;  // DISTRVIT_CUDA_KV_SPLITS=1: let the exact kernel split keys over blocks
  std::string device_name_;

  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;                  // around the whole forward
  cudaEvent_t compute_start_ = nullptr, compute_stop_ = nullptr;  // after the input upload, before the download
  bool device_timing_ = false;  // DISTRVIT_CUDA_TIMING=device: total_ms between those two (only then recorded)
  std::vector<cudaEvent_t> attention_events_;  // [depth][2]
  std::unique_ptr<cuda::GemmLt> gemm_;
  std::unique_ptr<cuda::CudnnAttention> cudnn_;

  void* weight_arena_ = nullptr;
  DeviceWeights w_;
  FoldedQkv folded_;
  std::vector<const void*> qkv_w_, qkv_b_;  // per layer, for the current plan: w_.blocks' or folded_'s
  Activations act_;
  void* attention_workspace_ = nullptr;  // naive attention's scores, the exact kernel's key splits
  size_t attention_workspace_bytes_ = 0;
  std::map<std::tuple<int, int, uint64_t>, float*> projections_;  // (block, hash bits, seed) -> R [block, bits]

  AttentionPlan plan_;
  std::string plan_signature_;
  int capture_layer_ = -1;
  Tensor captured_;
  ForwardTiming timing_;
  std::map<GraphKey, cudaGraphExec_t> graphs_;  // null exec: capture failed, run un-graphed
  std::map<GraphKey, double> attention_ms_;
  std::unique_ptr<CudaImagePreprocessor> image_preprocessor_;  // forward_images; created by its first call
};

CudaEngine::CudaEngine(std::shared_ptr<const VitModel> model, const EngineOptions& options)
    : model_(std::move(model)), options_(options), dtype_(data_type(options.precision)),
      elsize_(cuda::data_type_size(dtype_)) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    fail(fmt::format("cuda:{}", options.cuda_index), "no CUDA device found");
  }
  if (options.cuda_index < 0 || options.cuda_index >= count)
    fail(fmt::format("cuda:{}", options.cuda_index), "no such device ({} present)", count);
  CUDA_CHECK(cudaSetDevice(options.cuda_index));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, options.cuda_index));
  device_name_ = fmt::format("cuda:{} ({})", options.cuda_index, prop.name);
  gelu_tanh_ = env_is("DISTRVIT_CUDA_GELU", "tanh");  // default: exact erf GELU in every precision
  graphs_enabled_ = !env_is("DISTRVIT_CUDA_GRAPHS", "0");
  kv_splits_ = env_is("DISTRVIT_CUDA_KV_SPLITS", "1");
  device_timing_ = env_is("DISTRVIT_CUDA_TIMING", "device");

  const VitConfig& c = model_->config;
  if (c.num_classes <= 0) fail(model_->source, "a model without a classifier head is not supported on cuda");
  if (c.embed_dim % c.num_heads != 0) fail(model_->source, "embed_dim {} is not divisible by {} heads", c.embed_dim, c.num_heads);

  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_CHECK(cudaEventCreate(&start_));
  CUDA_CHECK(cudaEventCreate(&stop_));
  CUDA_CHECK(cudaEventCreate(&compute_start_));
  CUDA_CHECK(cudaEventCreate(&compute_stop_));
  attention_events_.resize(2 * c.depth);
  for (cudaEvent_t& e : attention_events_) CUDA_CHECK(cudaEventCreate(&e));
  gemm_ = std::make_unique<cuda::GemmLt>();
  upload_weights();
  for (const DeviceBlock& b : w_.blocks) {
    qkv_w_.push_back(b.qkv_w);
    qkv_b_.push_back(b.qkv_b);
  }
}

CudaEngine::~CudaEngine() {
  if (stream_) cudaStreamSynchronize(stream_);
  image_preprocessor_.reset();
  clear_graphs();
  free_activations();
  for (auto& [key, ptr] : projections_) cudaFree(ptr);
  if (attention_workspace_) cudaFree(attention_workspace_);
  cudnn_.reset();
  gemm_.reset();
  if (weight_arena_) cudaFree(weight_arena_);
  if (folded_.arena) cudaFree(folded_.arena);
  for (cudaEvent_t e : attention_events_) cudaEventDestroy(e);
  if (start_) cudaEventDestroy(start_);
  if (stop_) cudaEventDestroy(stop_);
  if (compute_start_) cudaEventDestroy(compute_start_);
  if (compute_stop_) cudaEventDestroy(compute_stop_);
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaEngine::upload_weights() {
  const VitConfig& c = model_->config;
  const VitWeights& mw = model_->weights;
  const int64_t e = c.embed_dim, m = c.mlp_hidden, classes = c.num_classes, head_k = classifier_width(c);
  const int64_t cpp = int64_t(c.in_chans) * c.patch_size * c.patch_size;
  auto need = [&](const Tensor& t, int64_t count, const char* name) {
    if (t.numel() != count)
      fail(model_->source, "{} has {} values, the cuda engine expected {}", name, t.numel(), count);
  };
  need(mw.patch_w, e * cpp, "patch_embed.proj.weight");
  need(mw.patch_b, e, "patch_embed.proj.bias");
  need(mw.pos_embed, int64_t(c.tokens()) * e, "pos_embed");
  need(mw.norm_w, e, "norm.weight");
  need(mw.norm_b, e, "norm.bias");
  need(mw.head_w, classes * e, "head.weight");
  need(mw.head_b, classes, "head.bias");
  if (int(mw.blocks.size()) != c.depth) fail(model_->source, "{} blocks, config says depth {}", mw.blocks.size(), c.depth);

  WeightUploader up(dtype_);
  const size_t patch_w = up.add_matrix(mw.patch_w);
  const size_t patch_b = up.add_matrix(mw.patch_b);
  need(mw.cls_token, c.class_token ? e : 0, "cls_token");
  need(mw.dist_token, c.distilled ? e : 0, "dist_token");
  need(mw.reg_token, c.register_tokens * e, "reg_token");
  std::vector<float> prefix_tokens;  // [prefix, E]: class, distillation, registers
  for (const Tensor* token : {&mw.cls_token, &mw.dist_token, &mw.reg_token}) {
    prefix_tokens.insert(prefix_tokens.end(), token->data.begin(), token->data.end());
  }
  const size_t prefix_off = up.add(std::move(prefix_tokens), DataType::F32);
  const size_t pos = up.add_f32(mw.pos_embed);
  need(mw.norm_pre_w, c.pre_norm ? e : 0, "norm_pre.weight");
  need(mw.norm_pre_b, c.pre_norm ? e : 0, "norm_pre.bias");
  const size_t norm_pre_w = up.add_f32(mw.norm_pre_w);
  const size_t norm_pre_b = up.add_f32(mw.norm_pre_b);
  struct BlockOffsets {
    size_t ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
  };
  std::vector<BlockOffsets> blocks;
  for (int l = 0; l < c.depth; ++l) {
    const VitBlockWeights& b = mw.blocks[l];
    const std::string name = fmt::format("blocks.{}", l);
    need(b.norm1_w, e, (name + ".norm1.weight").c_str());
    need(b.norm1_b, e, (name + ".norm1.bias").c_str());
    need(b.qkv_w, 3 * e * e, (name + ".attn.qkv.weight").c_str());
    need(b.qkv_b, 3 * e, (name + ".attn.qkv.bias").c_str());
    need(b.proj_w, e * e, (name + ".attn.proj.weight").c_str());
    need(b.proj_b, e, (name + ".attn.proj.bias").c_str());
    need(b.norm2_w, e, (name + ".norm2.weight").c_str());
    need(b.norm2_b, e, (name + ".norm2.bias").c_str());
    need(b.fc1_w, m * e, (name + ".mlp.fc1.weight").c_str());
    need(b.fc1_b, m, (name + ".mlp.fc1.bias").c_str());
    need(b.fc2_w, e * m, (name + ".mlp.fc2.weight").c_str());
    need(b.fc2_b, e, (name + ".mlp.fc2.bias").c_str());
    blocks.push_back({up.add_f32(b.norm1_w), up.add_f32(b.norm1_b), up.add_matrix(b.qkv_w), up.add_matrix(b.qkv_b),
                      up.add_matrix(b.proj_w), up.add_matrix(b.proj_b), up.add_f32(b.norm2_w), up.add_f32(b.norm2_b),
                      up.add_matrix(b.fc1_w), up.add_matrix(b.fc1_b), up.add_matrix(b.fc2_w), up.add_matrix(b.fc2_b)});
  }
  const size_t norm_w = up.add_f32(mw.norm_w);
  const size_t norm_b = up.add_f32(mw.norm_b);
  // Classifier over pre [B, K]: distilled models average two heads, which is one product with the weights side
  // by side, each halved (exact in floating point), and the mean bias.
  std::vector<float> head_w(classes * head_k), head_b(classes);
  for (int64_t k = 0; k < classes; ++k) {
    for (int64_t i = 0; i < e; ++i) head_w[k * head_k + i] = mw.head_w.data[k * e + i];
    head_b[k] = mw.head_b.data[k];
  }
  if (c.distilled) {
    need(mw.head_dist_w, classes * e, "head_dist.weight");
    need(mw.head_dist_b, classes, "head_dist.bias");
    for (int64_t k = 0; k < classes; ++k) {
      for (int64_t i = 0; i < e; ++i) {
        head_w[k * 2 * e + i] *= 0.5f;
        head_w[k * 2 * e + e + i] = 0.5f * mw.head_dist_w.data[k * e + i];
      }
      head_b[k] = 0.5f * (mw.head_b.data[k] + mw.head_dist_b.data[k]);
    }
  }
  const size_t head_w_off = up.add(std::move(head_w), dtype_);
  const size_t head_b_off = up.add(std::move(head_b), DataType::F32);

  weight_arena_ = up.upload(stream_);
  char* base = static_cast<char*>(weight_arena_);
  auto f32 = [&](size_t off) { return reinterpret_cast<const float*>(base + off); };
  auto any = [&](size_t off) { return static_cast<const void*>(base + off); };
  w_.patch_w = any(patch_w);
  w_.patch_b = any(patch_b);
  w_.prefix = f32(prefix_off);
  w_.pos = f32(pos);
  if (c.pre_norm) {
    w_.norm_pre_w = f32(norm_pre_w);
    w_.norm_pre_b = f32(norm_pre_b);
  }
  for (const BlockOffsets& o : blocks) {
    w_.blocks.push_back({f32(o.ln1_w), f32(o.ln1_b), any(o.qkv_w), any(o.qkv_b), any(o.proj_w), any(o.proj_b),
                         f32(o.ln2_w), f32(o.ln2_b), any(o.fc1_w), any(o.fc1_b), any(o.fc2_w), any(o.fc2_b)});
  }
  w_.norm_w = f32(norm_w);
  w_.norm_b = f32(norm_b);
  w_.head_w = any(head_w_off);
  w_.head_b = f32(head_b_off);
}

void CudaEngine::free_activations() {
  if (act_.device) cudaFree(act_.device);
  if (act_.host) cudaFreeHost(act_.host);
  act_ = Activations{};
}

void CudaEngine::clear_graphs() {
  for (auto& [key, exec] : graphs_)
    if (exec) cudaGraphExecDestroy(exec);
  graphs_.clear();
  attention_ms_.clear();
}

void CudaEngine::ensure_capacity(int batch) {
  if (batch <= act_.capacity) return;
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  clear_graphs();  // they hold the old pointers
  free_activations();
  const VitConfig& c = model_->config;
  const int64_t b = batch, e = c.embed_dim, t = c.tokens(), np = c.num_patches();
  const int64_t cpp = int64_t(c.in_chans) * c.patch_size * c.patch_size;
  const int64_t image = int64_t(c.in_chans) * c.image_height * c.image_width;
  const int64_t classes = c.num_classes, heads = c.num_heads, head_k = classifier_width(c);

  size_t offsets[13];
  size_t size = 0;
  const size_t bytes[13] = {size_t(b * image) * 4,          size_t(b * np * cpp) * elsize_,
                            size_t(b * np * e) * elsize_,   size_t(b * t * e) * 4,
                            size_t(b * t * e) * elsize_,    size_t(b * t * 3 * e) * elsize_,
                            size_t(b * t * e) * elsize_,    size_t(b * t * e) * elsize_,
                            size_t(b * t * c.mlp_hidden) * elsize_, size_t(b * head_k) * elsize_,
                            size_t(b * classes) * 4,        size_t(b * heads * t) * 4,
                            size_t(b * e) * 4};
  for (int i = 0; i < 13; ++i) {
    offsets[i] = size;
    size = align_up(size + bytes[i]);
  }
  CUDA_CHECK(cudaMalloc(&act_.device, size));
  char* d = static_cast<char*>(act_.device);
  act_.image = reinterpret_cast<float*>(d + offsets[0]);
  act_.cols = d + offsets[1];
  act_.patches = d + offsets[2];
  act_.x = reinterpret_cast<float*>(d + offsets[3]);
  act_.ln = d + offsets[4];
  act_.qkv = d + offsets[5];
  act_.att = d + offsets[6];
  act_.y = d + offsets[7];
  act_.hidden = d + offsets[8];
  act_.pre = d + offsets[9];
  act_.logits = reinterpret_cast<float*>(d + offsets[10]);
  act_.probs = reinterpret_cast<float*>(d + offsets[11]);
  act_.pooled = reinterpret_cast<float*>(d + offsets[12]);

  const size_t host_bytes[3] = {align_up(bytes[1]), align_up(bytes[10]), align_up(bytes[11])};
  CUDA_CHECK(cudaMallocHost(&act_.host, host_bytes[0] + host_bytes[1] + host_bytes[2]));
  char* h = static_cast<char*>(act_.host);
  act_.host_cols = h;
  act_.host_logits = reinterpret_cast<float*>(h + host_bytes[0]);
  act_.host_probs = reinterpret_cast<float*>(h + host_bytes[0] + host_bytes[1]);
  act_.capacity = batch;
}

void CudaEngine::set_attention(const AttentionPlan& plan) {
  const VitConfig& c = model_->config;
  if (!plan.per_layer_head.empty()) {
    bool ok = int(plan.per_layer_head.size()) == c.depth;
    for (const auto& row : plan.per_layer_head) ok = ok && int(row.size()) == c.num_heads;
    if (!ok) fail("attention plan '" + plan.name + "'", "expected {} layers x {} heads", c.depth, c.num_heads);
  }
  std::string signature = plan.name, lowrank_heads;
  for (int l = 0; l < c.depth; ++l) {
    signature += '|';
    for (int h = 0; h < c.num_heads; ++h) {
      const AttentionSpec& spec = plan.at(l, h);
      if (spec.kind == AttentionKind::Cudnn && dtype_ == DataType::F32)
        throw Error("--attention cudnn: cuDNN attention runs in fp16/bf16 only (use --precision fp16 or bf16)");
      if (spec.kind == AttentionKind::Distr) {
        if (!DISTRVIT_CUDA_HAS_DISTR) throw Error("--attention " + describe(spec) + ": distr attention is not available on cuda yet");
        validate_distr(spec.distr, c.head_dim());
      }
      if (spec.kind == AttentionKind::LowRank) {
        plan.lowrank_basis(l, h, c.head_dim());  // throws without fitting projections
        lowrank_heads += fmt::format("{}.{}:{},", l, h, spec.rank);
      }
      signature += describe(spec) + ',';
    }
  }
  if (!lowrank_heads.empty() && (folded_.projections != plan.lowrank || folded_.heads != lowrank_heads))
    fold_lowrank(plan, lowrank_heads);
  qkv_w_.assign(c.depth, nullptr);
  qkv_b_.assign(c.depth, nullptr);
  for (int l = 0; l < c.depth; ++l) {
    const bool folded = !lowrank_heads.empty() && folded_.w[l] != nullptr;
    qkv_w_[l] = folded ? folded_.w[l] : w_.blocks[l].qkv_w;
    qkv_b_[l] = folded ? folded_.b[l] : w_.blocks[l].qkv_b;
  }
  plan_ = plan;
  plan_signature_ = signature;
}

void CudaEngine::fold_lowrank(const AttentionPlan& plan, const std::string& heads) {
  const VitConfig& c = model_->config;
  const int64_t e = c.embed_dim, d = c.head_dim();
  WeightUploader up(dtype_);
  std::vector<std::pair<size_t, size_t>> offsets(c.depth);
  std::vector<bool> has_lowrank(c.depth, false);
  for (int l = 0; l < c.depth; ++l) {
    for (int h = 0; h < c.num_heads; ++h) has_lowrank[l] = has_lowrank[l] || plan.at(l, h).kind == AttentionKind::LowRank;
    if (!has_lowrank[l]) continue;
    const VitBlockWeights& block = model_->weights.blocks[l];
    std::vector<float> w = block.qkv_w.data, b = block.qkv_b.data;  // [3E, E], [3E]
    for (int h = 0; h < c.num_heads; ++h) {
      if (plan.at(l, h).kind != AttentionKind::LowRank) continue;
      const int rank = plan.at(l, h).rank;
      const float* u = plan.lowrank_basis(l, h, int(d));  // [D, rank]
      for (const int64_t row0 : {h * d, e + h * d}) {      // this head's q rows, then its k rows
        std::vector<float> rows(d * e, 0.0f), bias(d, 0.0f);  // [D, E], [D]: rank projected rows, then zeros
        for (int i = 0; i < rank; ++i) {
          for (int64_t j = 0; j < d; ++j) {
            const float coef = u[j * rank + i];
            const float* src = block.qkv_w.ptr() + (row0 + j) * e;
            for (int64_t k = 0; k < e; ++k) rows[i * e + k] += coef * src[k];
            bias[i] += coef * block.qkv_b.data[row0 + j];
          }
        }
        std::copy(rows.begin(), rows.end(), w.begin() + row0 * e);
        std::copy(bias.begin(), bias.end(), b.begin() + row0);
      }
    }
    offsets[l] = {up.add(std::move(w), dtype_), up.add(std::move(b), dtype_)};
  }
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  clear_graphs();  // graphs of an earlier fold hold its pointers
  if (folded_.arena) CUDA_CHECK(cudaFree(folded_.arena));
  folded_ = FoldedQkv{};
  folded_.arena = up.upload(stream_);
  folded_.projections = plan.lowrank;
  folded_.heads = heads;
  folded_.w.assign(c.depth, nullptr);
  folded_.b.assign(c.depth, nullptr);
  for (int l = 0; l < c.depth; ++l) {
    if (!has_lowrank[l]) continue;
    folded_.w[l] = static_cast<const char*>(folded_.arena) + offsets[l].first;
    folded_.b[l] = static_cast<const char*>(folded_.arena) + offsets[l].second;
  }
}

void CudaEngine::linear(const void* a, int64_t lda, const void* w, const void* bias, void* d, int m, int n, int k,
                        cuda::GemmEpilogue epilogue) {
  cuda::GemmParams p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = a;
  p.lda = lda;
  p.w = w;
  p.ldw = k;
  p.d = d;
  p.ldd = n;
  p.bias = bias;
  p.ab_type = dtype_;
  p.d_type = dtype_;
  p.epilogue = epilogue;
  gemm_->run(p, stream_);
}

const float* CudaEngine::distr_projection_on_device(const DistrParams& distr) {
  const auto key = std::make_tuple(distr.block, distr.hash_bits, distr.seed);
  auto found = projections_.find(key);
  if (found != projections_.end()) return found->second;
  const std::vector<float> r = distr_projection(distr, distr.block);  // [block, hash_bits]
  float* device = nullptr;
  CUDA_CHECK(cudaMalloc(&device, r.size() * sizeof(float)));
  CUDA_CHECK(cudaMemcpy(device, r.data(), r.size() * sizeof(float), cudaMemcpyHostToDevice));
  projections_.emplace(key, device);
  return device;
}

// Grows the attention workspace to `bytes`. Only outside graph capture: a (batch, plan) runs un-graphed before
// it is captured, so the capture finds the workspace already large enough.
void* CudaEngine::attention_workspace(size_t bytes) {
  if (bytes > attention_workspace_bytes_) {
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (attention_workspace_) CUDA_CHECK(cudaFree(attention_workspace_));
    attention_workspace_ = nullptr;
    CUDA_CHECK(cudaMalloc(&attention_workspace_, bytes));
    attention_workspace_bytes_ = bytes;
    clear_graphs();  // graphs captured before hold the old workspace
  }
  return attention_workspace_;
}

void CudaEngine::run_attention(const AttentionSpec& spec, const cuda::AttentionDeviceParams& p) {
  switch (spec.kind) {
    case AttentionKind::Exact:
    case AttentionKind::LowRank: {  // p.qk_dim: the q/k columns the run's heads need (attention())
      void* workspace = kv_splits_ ? attention_workspace(cuda::exact_workspace_bytes(p)) : nullptr;
      cuda::attention_exact(p, stream_, workspace, workspace ? attention_workspace_bytes_ : 0);
      return;
    }
    case AttentionKind::Cudnn:
      if (!cudnn_) cudnn_ = std::make_unique<cuda::CudnnAttention>();
      cudnn_->run(p, stream_);
      return;
    case AttentionKind::Naive:
      cuda::attention_naive(p, attention_workspace(cuda::naive_workspace_bytes(p)), stream_);
      return;
    case AttentionKind::Distr:
#if DISTRVIT_CUDA_HAS_DISTR
      cuda::attention_distr(p, spec.distr, distr_projection_on_device(spec.distr), stream_);
      return;
#else
      throw Error("--attention " + describe(spec) + ": distr attention is not available on cuda yet");
#endif
  }
}

// Exact and low-rank heads both run the exact kernel: low-rank q/k are zero past their rank, so a run of such heads is
// one call reading as many q/k columns as its widest head needs.
bool runs_exact_kernel(const AttentionSpec& spec) {
  return spec.kind == AttentionKind::Exact || spec.kind == AttentionKind::LowRank;
}
int exact_kernel_width(const AttentionSpec& spec, int head_dim) {
  return spec.kind == AttentionKind::LowRank ? cuda::exact_score_width(head_dim, spec.rank) : head_dim;
}

// One layer's attention: q, k, v read from qkv [B, T, 3, H, D] through strides, out into att [B, T, H, D].
// Consecutive heads that run the same attention (or the exact kernel) go in one call, pointers offset to the first.
void CudaEngine::attention(int layer, int batch, bool timed) {
  const VitConfig& c = model_->config;
  const int heads = c.num_heads, d = c.head_dim(), t = c.tokens();
  const cuda::AttentionDeviceParams full =
      cuda::AttentionDeviceParams::from_qkv(act_.qkv, act_.att, dtype_, batch, t, heads, d);

  if (timed) CUDA_CHECK(cudaEventRecord(attention_events_[2 * layer], stream_));
  for (int h0 = 0; h0 < heads;) {
    const AttentionSpec& spec = plan_.at(layer, h0);
    int h1 = h0 + 1;
    int qk_width = runs_exact_kernel(spec) ? exact_kernel_width(spec, d) : 0;
    for (; h1 < heads; ++h1) {
      const AttentionSpec& next = plan_.at(layer, h1);
      if (runs_exact_kernel(spec) && runs_exact_kernel(next)) {
        qk_width = std::max(qk_width, exact_kernel_width(next, d));
      } else if (!same_attention(next, spec)) {
        break;
      }
    }
    cuda::AttentionDeviceParams p = full;
    p.qk_dim = qk_width;
    const int64_t offset = int64_t(h0) * d;
    p.q = at(const_cast<void*>(full.q), offset);
    p.k = at(const_cast<void*>(full.k), offset);
    p.v = at(const_cast<void*>(full.v), offset);
    p.out = at(full.out, offset);
    p.heads = h1 - h0;
    run_attention(spec, p);
    h0 = h1;
  }
  if (timed) CUDA_CHECK(cudaEventRecord(attention_events_[2 * layer + 1], stream_));
  if (layer == captured_layer()) cuda::cls_attention_probs(full, act_.probs, stream_);
}

void CudaEngine::enqueue(int batch, bool timed) {
  const VitConfig& c = model_->config;
  const int e = c.embed_dim, m = c.mlp_hidden, t = c.tokens(), np = c.num_patches(), prefix = c.num_prefix_tokens();
  const int head_tokens = c.head_tokens();
  const int cpp = c.in_chans * c.patch_size * c.patch_size;
  const int rows = batch * t;
  const auto bias_ep = cuda::GemmEpilogue::Bias;
  const auto fc1_ep = gelu_tanh_ ? cuda::GemmEpilogue::BiasGeluTanh : cuda::GemmEpilogue::BiasGeluErf;

  if (device_timing_) record_timing_event(compute_start_);
  // Patch embedding: cols [B*Np, C*P*P] x patch_w [E, C*P*P]^T + patch_b -> patches [B*Np, E].
  linear(act_.cols, cpp, w_.patch_w, w_.patch_b, act_.patches, batch * np, e, cpp, bias_ep);
  cuda::embed_tokens(act_.patches, dtype_, w_.prefix, w_.pos, act_.x, batch, t, prefix, e, stream_);

  cuda::LayerNormParams ln;
  ln.dtype = dtype_;
  ln.dim = e;
  ln.eps = c.ln_eps;
  if (c.pre_norm) {  // x = norm_pre(x), in place in fp32: each row is read whole before it is written
    cuda::LayerNormParams p = ln;
    p.dtype = DataType::F32;
    p.x = act_.x;
    p.weight = w_.norm_pre_w;
    p.bias = w_.norm_pre_b;
    p.out = act_.x;
    p.rows = rows;
    cuda::layernorm(p, stream_);
  }
  {  // ln = norm1_0(x)
    cuda::LayerNormParams p = ln;
    p.x = act_.x;
    p.weight = w_.blocks[0].ln1_w;
    p.bias = w_.blocks[0].ln1_b;
    p.out = act_.ln;
    p.rows = rows;
    cuda::layernorm(p, stream_);
  }
  for (int l = 0; l < c.depth; ++l) {
    const DeviceBlock& b = w_.blocks[l];
    const bool last = l == c.depth - 1;
    linear(act_.ln, e, qkv_w_[l], qkv_b_[l], act_.qkv, rows, 3 * e, e, bias_ep);
    attention(l, batch, timed);

    // After the last attention only the class token reaches the classifier when it is the one head token. Its
    // rows are strided by T*E in att and x: the rest of the block runs on B rows instead of B*T.
    const bool shortcut = last && head_tokens == 1;
    const int r = shortcut ? batch : rows;
    const int64_t row_stride = shortcut ? int64_t(t) * e : e;  // of att and x
    linear(act_.att, row_stride, b.proj_w, b.proj_b, act_.y, r, e, e, bias_ep);
    {  // x += y; ln = norm2(x)
      cuda::LayerNormParams p = ln;
      p.x = act_.x;
      p.x_out = act_.x;
      p.y = act_.y;
      p.weight = b.ln2_w;
      p.bias = b.ln2_b;
      p.out = act_.ln;
      p.rows = r;
      p.group = 1;
      p.group_stride = row_stride;
      cuda::layernorm(p, stream_);
    }
    linear(act_.ln, e, b.fc1_w, b.fc1_b, act_.hidden, r, m, e, fc1_ep);
    linear(act_.hidden, m, b.fc2_w, b.fc2_b, act_.y, r, e, m, bias_ep);
    if (last && c.pooling == Pooling::PatchMean && c.norm_after_pooling) break;  // x + y is averaged below
    {  // x += y; then the next block's norm1, or the final norm
      cuda::LayerNormParams p = ln;
      p.x = act_.x;
      p.x_out = act_.x;
      p.y = act_.y;
      p.weight = last ? w_.norm_w : w_.blocks[l + 1].ln1_w;
      p.bias = last ? w_.norm_b : w_.blocks[l + 1].ln1_b;
      p.out = act_.ln;
      p.rows = rows;
      if (last && c.pooling == Pooling::ClassToken) {  // of the head tokens only, into pre [B, head tokens, E]
        p.out = act_.pre;
        p.rows = batch * head_tokens;
        p.group = shortcut ? 1 : head_tokens;
        p.group_stride = int64_t(t) * e;
        p.y_group_stride = shortcut ? e : int64_t(t) * e;
      }
      cuda::layernorm(p, stream_);
    }
  }
  if (c.pooling == Pooling::PatchMean) {
    cuda::MeanTokensParams mean;
    mean.batch = batch;
    mean.tokens = t;
    mean.first = prefix;
    mean.dim = e;
    if (c.norm_after_pooling) {  // pooled = mean(x + y) over the patch rows; pre = fc_norm(pooled)
      mean.x = act_.x;
      mean.x_type = DataType::F32;
      mean.y = act_.y;
      mean.y_type = dtype_;
      mean.out = act_.pooled;
      mean.out_type = DataType::F32;
      cuda::mean_tokens(mean, stream_);
      cuda::LayerNormParams p = ln;
      p.x = act_.pooled;
      p.weight = w_.norm_w;
      p.bias = w_.norm_b;
      p.out = act_.pre;
      p.rows = batch;
      cuda::layernorm(p, stream_);
    } else {  // pre = mean of the normed patch rows in ln
      mean.x = act_.ln;
      mean.x_type = dtype_;
      mean.out = act_.pre;
      mean.out_type = dtype_;
      cuda::mean_tokens(mean, stream_);
    }
  }
  // Classifier: pre [B, K] x head_w [classes, K]^T + head_b -> logits [B, classes] (fp32).
  cuda::GemmParams head;
  head.m = batch;
  head.n = c.num_classes;
  head.k = classifier_width(c);
  head.a = act_.pre;
  head.w = w_.head_w;
  head.d = act_.logits;
  head.bias = w_.head_b;
  head.ab_type = dtype_;
  head.d_type = DataType::F32;
  head.epilogue = bias_ep;
  gemm_->run(head, stream_);

  if (device_timing_) record_timing_event(compute_stop_);
  CUDA_CHECK(cudaMemcpyAsync(act_.host_logits, act_.logits, size_t(batch) * c.num_classes * sizeof(float),
                             cudaMemcpyDeviceToHost, stream_));
  if (captured_layer() >= 0) {
    CUDA_CHECK(cudaMemcpyAsync(act_.host_probs, act_.probs, size_t(batch) * c.num_heads * t * sizeof(float),
                               cudaMemcpyDeviceToHost, stream_));
  }
}

// Under stream capture an event record must be "external" to become an event-record node of the graph (a plain
// record only marks a capture dependency); outside capture that flag is an error, so a plain record there.
void CudaEngine::record_timing_event(cudaEvent_t event) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream_, &status));
  if (status == cudaStreamCaptureStatusActive) {
    CUDA_CHECK(cudaEventRecordWithFlags(event, stream_, cudaEventRecordExternal));
  } else {
    CUDA_CHECK(cudaEventRecord(event, stream_));
  }
}

double CudaEngine::elapsed_total_ms() {
  float ms = 0;
  if (device_timing_) {
    if (cudaEventElapsedTime(&ms, compute_start_, compute_stop_) == cudaSuccess) return ms;
    cudaGetLastError();
    std::fprintf(stderr, "distrvit: DISTRVIT_CUDA_TIMING=device could not be timed; total_ms covers the transfers\n");
    device_timing_ = false;
  }
  CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
  return ms;
}

void CudaEngine::enqueue_cols_upload(int batch) {
  const VitConfig& c = model_->config;
  const size_t cols = size_t(c.num_patches()) * c.in_chans * c.patch_size * c.patch_size;
  CUDA_CHECK(cudaMemcpyAsync(act_.cols, act_.host_cols, size_t(batch) * cols * elsize_, cudaMemcpyHostToDevice,
                             stream_));
}

void CudaEngine::run_eager(int batch, bool timed, const std::function<void()>& enqueue_input) {
  CUDA_CHECK(cudaEventRecord(start_, stream_));
  enqueue_input();
  enqueue(batch, timed);
  CUDA_CHECK(cudaEventRecord(stop_, stream_));
  CUDA_CHECK(cudaEventSynchronize(stop_));
  float ms = 0;
  timing_.total_ms = elapsed_total_ms();
  timing_.attention_ms = 0;
  if (timed) {
    for (int l = 0; l < model_->config.depth; ++l) {
      CUDA_CHECK(cudaEventElapsedTime(&ms, attention_events_[2 * l], attention_events_[2 * l + 1]));
      timing_.attention_ms += ms;
    }
  }
}

// Captures the forward for `batch`, after enqueue_input where given, into an executable graph; null (and a note on
// stderr) when capture fails.
cudaGraphExec_t CudaEngine::capture(int batch, const std::function<void()>* enqueue_input) {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  try {
    if (enqueue_input) (*enqueue_input)();
    enqueue(batch, false);
  } catch (const Error& error) {
    cudaStreamEndCapture(stream_, &graph);
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    std::fprintf(stderr, "distrvit: CUDA graph capture failed, running without graphs: %s\n", error.what());
    return nullptr;
  }
  CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (status != cudaSuccess) {
    cudaGetLastError();
    std::fprintf(stderr, "distrvit: CUDA graph instantiation failed (%s), running without graphs\n",
                 cudaGetErrorString(status));
    return nullptr;
  }
  return exec;
}

Tensor CudaEngine::forward(const Tensor& input) {
  const VitConfig& c = model_->config;
  if (input.shape.size() != 4 || input.shape[0] < 1 || input.shape[1] != c.in_chans ||
      input.shape[2] != c.image_height || input.shape[3] != c.image_width) {
    throw Error(fmt::format("input: shape {}, expected [B, {}, {}, {}]", shape_string(input.shape), c.in_chans,
                            c.image_height, c.image_width));
  }
  const int batch = static_cast<int>(input.shape[0]);
  CUDA_CHECK(cudaSetDevice(options_.cuda_index));
  ensure_capacity(batch);
  stage_patches(input.ptr(), act_.host_cols, options_.precision, batch, c.in_chans, c.image_height, c.image_width,
                c.patch_size, options_.threads);
  return run_forward(batch, [this, batch] { enqueue_cols_upload(batch); }, true);
}

// The pixels go up as uint8 (only those the resize reads) and become act_.image, then act_.cols, on the GPU; the
// graphed forward starts from there.
Tensor CudaEngine::forward_images(const std::vector<const ImageU8*>& images) {
  const VitConfig& c = model_->config;
  const PreprocessConfig& preprocess = c.preprocess;
  if (c.in_chans != 3 || preprocess.input_height != c.image_height || preprocess.input_width != c.image_width) {
    fail(model_->source, "preprocessing gives [3, {}, {}] images, the model takes [{}, {}, {}]",
         preprocess.input_height, preprocess.input_width, c.in_chans, c.image_height, c.image_width);
  }
  CUDA_CHECK(cudaSetDevice(options_.cuda_index));
  if (!image_preprocessor_) image_preprocessor_ = std::make_unique<CudaImagePreprocessor>(options_.threads);
  image_preprocessor_->stage(images, preprocess);
  const int batch = image_preprocessor_->staged_batch();
  ensure_capacity(batch);
  return run_forward(batch, [this, batch, &c] {
    image_preprocessor_->enqueue(act_.image, stream_);
    cuda::im2col_patches(act_.image, act_.cols, dtype_, batch, c.in_chans, c.image_height, c.image_width,
                         c.patch_size, stream_);
  }, false);  // the pixel upload's size depends on the images
}

Tensor CudaEngine::run_forward(int batch, const std::function<void()>& enqueue_input, bool input_capturable) {
  const VitConfig& c = model_->config;
  const GraphKey key{batch, plan_signature_, captured_layer(), input_capturable};
  auto found = graphs_.find(key);
  if (!graphs_enabled_) {
    run_eager(batch, true, enqueue_input);
  } else if (found == graphs_.end()) {
    run_eager(batch, false, enqueue_input);  // warm-up: algorithm choices, cuDNN plans, lazily allocated workspaces
    run_eager(batch, true, enqueue_input);
    attention_ms_[key] = timing_.attention_ms;
    graphs_[key] = capture(batch, input_capturable ? &enqueue_input : nullptr);
  } else if (found->second == nullptr) {
    run_eager(batch, true, enqueue_input);
  } else {
    CUDA_CHECK(cudaEventRecord(start_, stream_));
    if (!input_capturable) enqueue_input();
    CUDA_CHECK(cudaGraphLaunch(found->second, stream_));
    CUDA_CHECK(cudaEventRecord(stop_, stream_));
    CUDA_CHECK(cudaEventSynchronize(stop_));
    timing_.total_ms = elapsed_total_ms();
    timing_.attention_ms = attention_ms_[key];
  }

  Tensor logits({batch, c.num_classes});
  std::memcpy(logits.ptr(), act_.host_logits, logits.data.size() * sizeof(float));
  if (captured_layer() >= 0) {
    captured_ = Tensor({batch, c.num_heads, c.tokens()});
    std::memcpy(captured_.ptr(), act_.host_probs, captured_.data.size() * sizeof(float));
  }
  return logits;
}

}  // namespace

std::unique_ptr<Engine> create_cuda_engine(std::shared_ptr<const VitModel> model, const EngineOptions& options) {
  return std::make_unique<CudaEngine>(std::move(model), options);
}

}  // namespace distrvit
