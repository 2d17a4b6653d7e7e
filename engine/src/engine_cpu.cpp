// The fp32 CPU backend: OpenBLAS matrix products, exact erf GELU, LayerNorm with the model's eps.
#include "engine_cpu.h"

#include <cblas.h>

#include <chrono>

#include "distrvit/error.h"
#include "distrvit/attention_plan.h"
#include "distrvit/ops_cpu.h"

namespace distrvit {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

AttentionParams single_head(const AttentionParams& p, int head) {
  AttentionParams one = p;
  one.q += head * p.qkv_head_stride;
  one.k += head * p.qkv_head_stride;
  one.v += head * p.qkv_head_stride;
  one.out += head * p.out_head_stride;
  one.heads = 1;
  return one;
}

// Runs heads that share one spec. LowRank runs one head at a time (`head` is its index in the layer).
void run_head_group(const AttentionPlan& plan, int layer, int head, const AttentionSpec& spec, const AttentionParams& p,
                    float* cls_probs) {
  switch (spec.kind) {
    case AttentionKind::Exact:
      attention_blas_cpu(p, cls_probs);
      return;
    case AttentionKind::LowRank:
      attention_lowrank_cpu(p, plan.lowrank_basis(layer, head, p.head_dim), spec.rank, cls_probs);
      return;
    case AttentionKind::Naive:
      attention_exact_cpu(p);
      return;
    case AttentionKind::Distr:
      attention_distr_cpu(p, spec.distr);
      return;
    case AttentionKind::Cudnn:
      throw Error("--attention cudnn: cuDNN attention needs the CUDA backend (--device cuda)");
  }
}

class CpuEngine final : public Engine {
 public:
  CpuEngine(std::shared_ptr<const VitModel> model, const EngineOptions& options)
      : model_(std::move(model)), threads_(options.threads) {
    if (options.precision != Precision::F32) {
      throw Error("--precision " + precision_name(options.precision) + ": the CPU backend runs fp32 only");
    }
    if (options.threads > 0) openblas_set_num_threads(options.threads);
  }

  Tensor forward(const Tensor& input) override;
  Tensor forward_images(const std::vector<const ImageU8*>& images) override {
    if (images.empty()) throw Error("forward_images: no images");
    return forward(preprocess_batch(images, model_->config.preprocess, threads_));
  }
  void set_attention(const AttentionPlan& plan) override { plan_ = plan; }
  const AttentionPlan& attention() const override { return plan_; }
  void capture_cls_attention(int layer) override { capture_layer_ = layer; }
  void set_attention_observer(AttentionObserver observer) override { observer_ = std::move(observer); }
  Tensor captured_cls_attention() const override { return captured_; }
  ForwardTiming last_timing() const override { return timing_; }
  std::string device_name() const override { return "cpu"; }
  const VitModel& model() const override { return *model_; }

 private:
  void embed(const Tensor& input, float* x, int batch);
  void block(int layer, float* x, int batch);
  Tensor head(const float* x, int batch);

  std::shared_ptr<const VitModel> model_;
  int threads_;  // preprocessing and BLAS threads; 0 = all cores
  AttentionPlan plan_;
  int capture_layer_ = -1;
  Tensor captured_;
  AttentionObserver observer_;
  ForwardTiming timing_;
  // Scratch, sized per batch (fp32, row-major):
  std::vector<float> patches_;  // [B, gh*gw, E]
  std::vector<float> normed_;   // [B*T, E]
  std::vector<float> qkv_;      // [B*T, 3E]  = [B, T, 3, H, D]
  std::vector<float> attn_;     // [B*T, E]   = [B, T, H, D]
  std::vector<float> hidden_;   // [B*T, M]
  std::vector<float> delta_;    // [B*T, E]
};

void CpuEngine::embed(const Tensor& input, float* x, int batch) {
  const VitConfig& c = model_->config;
  const VitWeights& w = model_->weights;
  const int e = c.embed_dim, t = c.tokens(), prefix = c.num_prefix_tokens(), patches = c.num_patches();
  patches_.resize(size_t(batch) * patches * e);
  patch_embed_cpu(input.ptr(), w.patch_w.ptr(), w.patch_b.ptr(), patches_.data(), batch, c.in_chans, c.image_height,
                  c.image_width, c.patch_size, e);
  for (int b = 0; b < batch; ++b) {
    float* tokens = x + int64_t(b) * t * e;  // [T, E]
    std::copy(w.cls_token.data.begin(), w.cls_token.data.end(), tokens);
    if (c.distilled) std::copy(w.dist_token.data.begin(), w.dist_token.data.end(), tokens + e);
    std::copy(patches_.begin() + int64_t(b) * patches * e, patches_.begin() + int64_t(b + 1) * patches * e,
              tokens + int64_t(prefix) * e);
    add_inplace_cpu(tokens, w.pos_embed.ptr(), int64_t(t) * e);
  }
}

void CpuEngine::block(int layer, float* x, int batch) {
  const VitConfig& c = model_->config;
  const VitBlockWeights& w = model_->weights.blocks[layer];
  const int64_t e = c.embed_dim, m = c.mlp_hidden, rows = int64_t(batch) * c.tokens();

  layernorm_cpu(x, w.norm1_w.ptr(), w.norm1_b.ptr(), normed_.data(), rows, e, c.ln_eps);
  linear_cpu(normed_.data(), w.qkv_w.ptr(), w.qkv_b.ptr(), qkv_.data(), rows, 3 * e, e);
  const AttentionParams params =
      AttentionParams::from_qkv(qkv_.data(), attn_.data(), batch, c.tokens(), c.num_heads, c.head_dim());
  if (observer_) observer_(layer, params);
  float* cls_probs = nullptr;
  if (layer == capture_layer_) {
    captured_ = Tensor({batch, c.num_heads, c.tokens()});
    cls_probs = captured_.ptr();
  }
  const auto start = Clock::now();
  run_attention_cpu(plan_, layer, params, cls_probs);
  timing_.attention_ms += elapsed_ms(start);
  linear_cpu(attn_.data(), w.proj_w.ptr(), w.proj_b.ptr(), delta_.data(), rows, e, e);
  add_inplace_cpu(x, delta_.data(), rows * e);

  layernorm_cpu(x, w.norm2_w.ptr(), w.norm2_b.ptr(), normed_.data(), rows, e, c.ln_eps);
  linear_cpu(normed_.data(), w.fc1_w.ptr(), w.fc1_b.ptr(), hidden_.data(), rows, m, e);
  gelu_cpu(hidden_.data(), rows * m);
  linear_cpu(hidden_.data(), w.fc2_w.ptr(), w.fc2_b.ptr(), delta_.data(), rows, e, m);
  add_inplace_cpu(x, delta_.data(), rows * e);
}

// Final LayerNorm of the prefix tokens and the classifier (distilled: mean of both heads).
Tensor CpuEngine::head(const float* x, int batch) {
  const VitConfig& c = model_->config;
  const VitWeights& w = model_->weights;
  const int64_t e = c.embed_dim, t = c.tokens(), classes = c.num_classes;
  Tensor logits({batch, classes});
  std::vector<float> features(e), dist_logits(classes);
  for (int b = 0; b < batch; ++b) {
    const float* tokens = x + b * t * e;
    float* out = logits.ptr() + b * classes;
    layernorm_cpu(tokens, w.norm_w.ptr(), w.norm_b.ptr(), features.data(), 1, e, c.ln_eps);
    linear_cpu(features.data(), w.head_w.ptr(), w.head_b.ptr(), out, 1, classes, e);
    if (c.distilled) {
      layernorm_cpu(tokens + e, w.norm_w.ptr(), w.norm_b.ptr(), features.data(), 1, e, c.ln_eps);
      linear_cpu(features.data(), w.head_dist_w.ptr(), w.head_dist_b.ptr(), dist_logits.data(), 1, classes, e);
      for (int64_t i = 0; i < classes; ++i) out[i] = 0.5f * (out[i] + dist_logits[i]);
    }
  }
  return logits;
}

Tensor CpuEngine::forward(const Tensor& input) {
  const VitConfig& c = model_->config;
  if (input.shape.size() != 4 || input.shape[1] != c.in_chans || input.shape[2] != c.image_height ||
      input.shape[3] != c.image_width) {
    throw Error(fmt::format("input: shape {}, expected [B, {}, {}, {}]", shape_string(input.shape), c.in_chans,
                            c.image_height, c.image_width));
  }
  const auto start = Clock::now();
  timing_ = {};
  const int batch = static_cast<int>(input.shape[0]);
  const int64_t rows = int64_t(batch) * c.tokens(), e = c.embed_dim;
  std::vector<float> x(rows * e);  // [B, T, E] residual stream
  normed_.resize(rows * e);
  qkv_.resize(rows * 3 * e);
  attn_.resize(rows * e);
  hidden_.resize(rows * c.mlp_hidden);
  delta_.resize(rows * e);

  embed(input, x.data(), batch);
  for (int layer = 0; layer < c.depth; ++layer) block(layer, x.data(), batch);
  Tensor logits = head(x.data(), batch);
  timing_.total_ms = elapsed_ms(start);
  return logits;
}

}  // namespace

void run_attention_cpu(const AttentionPlan& plan, int layer, const AttentionParams& params, float* cls_probs) {
  const int heads = params.heads;
  bool same_kind = true;
  for (int h = 1; h < heads; ++h) same_kind &= same_attention(plan.at(layer, h), plan.at(layer, 0));
  const AttentionKind kind = plan.at(layer, 0).kind;
  if (same_kind && kind != AttentionKind::LowRank && (cls_probs == nullptr || kind == AttentionKind::Exact)) {
    run_head_group(plan, layer, 0, plan.at(layer, 0), params, cls_probs);
    return;
  }
  for (int h = 0; h < heads; ++h) {
    const AttentionSpec& spec = plan.at(layer, h);
    AttentionParams one = single_head(params, h);
    std::vector<float> probs;
    float* head_probs = nullptr;
    if (cls_probs) {
      probs.resize(size_t(params.batch) * params.tokens);
      head_probs = probs.data();
    }
    if (cls_probs && (spec.kind == AttentionKind::Distr || spec.kind == AttentionKind::Naive)) {
      attention_cls_probs_cpu(one, spec, head_probs);
      run_head_group(plan, layer, h, spec, one, nullptr);
    } else {
      run_head_group(plan, layer, h, spec, one, head_probs);
    }
    for (int b = 0; cls_probs && b < params.batch; ++b) {
      std::copy(probs.begin() + int64_t(b) * params.tokens, probs.begin() + int64_t(b + 1) * params.tokens,
                cls_probs + (int64_t(b) * heads + h) * params.tokens);
    }
  }
}

std::unique_ptr<Engine> create_cpu_engine(std::shared_ptr<const VitModel> model, const EngineOptions& options) {
  return std::make_unique<CpuEngine>(std::move(model), options);
}

}  // namespace distrvit
