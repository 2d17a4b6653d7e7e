// The fp32 CPU backend: OpenBLAS matrix products, exact erf GELU, LayerNorm with the model's eps.
// OpenBLAS runs single-threaded; the engine spreads its own work over a WorkerPool instead: chunks of token rows
// for everything between two attentions (LayerNorm, the four linear layers, GELU, residual adds), and (image, head,
// query rows) for attention. Between two attentions a chunk's rows never wait for other rows.
#include "engine_cpu.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>

#include "distrvit/error.h"
#include "distrvit/attention_plan.h"
#include "distrvit/ops_cpu.h"
#include "worker_pool.h"

namespace distrvit {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Rows of at most kMaxChunkRows per item, and at least one item per thread: small enough that an MLP chunk's
// hidden activations [rows, M] stay in L2, large enough for OpenBLAS to run near its peak.
constexpr int64_t kMaxChunkRows = 128;
// Query rows per attention item, at most.
constexpr int kMaxQueryChunkRows = 64;

struct RowChunks {
  RowChunks(int64_t total_rows, int threads)
      : rows(total_rows), size(std::max<int64_t>(1, std::min(kMaxChunkRows, (total_rows + threads - 1) / threads))) {}
  size_t count() const { return size_t((rows + size - 1) / size); }
  int64_t begin(size_t chunk) const { return int64_t(chunk) * size; }
  int64_t end(size_t chunk) const { return std::min(rows, begin(chunk) + size); }
  int64_t rows, size;
};

// One image and one head of a layer's attention: b's rows, h's columns.
AttentionParams image_head(const AttentionParams& p, int b, int head) {
  AttentionParams one = p;
  one.q += b * p.qkv_batch_stride + head * p.qkv_head_stride;
  one.k += b * p.qkv_batch_stride + head * p.qkv_head_stride;
  one.v += b * p.qkv_batch_stride + head * p.qkv_head_stride;
  one.out += b * p.out_batch_stride + head * p.out_head_stride;
  one.batch = 1;
  one.heads = 1;
  return one;
}

// A unit of a layer's attention: query rows [row_begin, row_end) of image b, head h.
struct AttentionItem {
  int b, h, row_begin, row_end;
};

// One item of a layer's attention, as the plan says for its head. params covers the whole layer; exact attention
// runs the item's query rows (scores: scratch for [rows, N]), the other kinds whole heads of one image.
// cls_probs: the item's [N] row of the class-token probabilities, or null.
void run_attention_item_cpu(const AttentionPlan& plan, int layer, const AttentionParams& params,
                            const AttentionItem& item, std::vector<float>& scores, float* cls_probs) {
  const AttentionSpec& spec = plan.at(layer, item.h);
  const AttentionParams one = image_head(params, item.b, item.h);
  switch (spec.kind) {
    case AttentionKind::Exact:
      scores.resize(std::max(scores.size(), size_t(item.row_end - item.row_begin) * params.tokens));
      attention_blas_rows_cpu(params, item.b, item.h, item.row_begin, item.row_end, scores.data(), cls_probs);
      return;
    case AttentionKind::LowRank:
      attention_lowrank_cpu(one, plan.lowrank_basis(layer, item.h, params.head_dim), spec.rank, cls_probs);
      return;
    case AttentionKind::Naive:
    case AttentionKind::Distr:
      if (cls_probs) attention_cls_probs_cpu(one, spec, cls_probs);
      if (spec.kind == AttentionKind::Naive) {
        attention_exact_cpu(one);
      } else {
        attention_distr_blas_cpu(one, spec.distr);
      }
      return;
    case AttentionKind::Cudnn:
      throw Error("--attention cudnn: cuDNN attention needs the CUDA backend (--device cuda)");
  }
}

class CpuEngine final : public Engine {
 public:
  CpuEngine(std::shared_ptr<const VitModel> model, const EngineOptions& options)
      : model_(std::move(model)), threads_(options.threads), pool_(options.threads), scratch_(pool_.threads()) {
    if (options.precision != Precision::F32) {
      throw Error("--precision " + precision_name(options.precision) + ": the CPU backend runs fp32 only");
    }
    openblas_set_num_threads(1);
  }

  Tensor forward(const Tensor& input) override;
  Tensor forward_images(const std::vector<const ImageU8*>& images) override {
    if (images.empty()) throw Error("forward_images: no images");
    return forward(preprocess_batch(images, model_->config.preprocess, threads_));
  }
  void set_attention(const AttentionPlan& plan) override { plan_ = plan; }
  const AttentionPlan& attention() const override { return plan_; }
  void capture_cls_attention(int layer) override {
    if (layer >= 0 && !model_->config.class_token) {
      fail(model_->source, "no class token, so no attention of it to capture");
    }
    capture_layer_ = layer;
  }
  void set_attention_observer(AttentionObserver observer) override { observer_ = std::move(observer); }
  Tensor captured_cls_attention() const override { return captured_; }
  ForwardTiming last_timing() const override { return timing_; }
  std::string device_name() const override { return "cpu"; }
  const VitModel& model() const override { return *model_; }

 private:
  void embed(const Tensor& input, float* x, int batch);
  void pre_norm(float* x, int64_t row_begin, int64_t row_end);
  void attention_input(int layer, float* x, int64_t row_begin, int64_t row_end);
  void attention(int layer, int batch);
  void attention_output_and_mlp(int layer, float* x, int64_t row_begin, int64_t row_end);
  Tensor head(const float* x, int batch);

  std::shared_ptr<const VitModel> model_;
  int threads_;  // preprocessing threads; 0 = all cores
  WorkerPool pool_;
  std::vector<std::vector<float>> scratch_;  // per pool thread: im2col columns, attention scores
  AttentionPlan plan_;
  int capture_layer_ = -1;
  Tensor captured_;
  AttentionObserver observer_;
  ForwardTiming timing_;
  // Scratch, sized per batch (fp32, row-major):
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
  const int64_t image_size = int64_t(c.in_chans) * c.image_height * c.image_width;
  for (int b = 0; b < batch; ++b) {
    float* tokens = x + int64_t(b) * t * e;  // [T, E]: class, distillation, registers, patches
    float* next = tokens;
    for (const Tensor* prefix_token : {&w.cls_token, &w.dist_token, &w.reg_token}) {
      next = std::copy(prefix_token->data.begin(), prefix_token->data.end(), next);
    }
    add_inplace_cpu(tokens, w.pos_embed.ptr(), int64_t(prefix) * e);
  }
  const RowChunks chunks(patches, pool_.threads());
  pool_.run(size_t(batch) * chunks.count(), [&](size_t item, int thread) {
    const int b = int(item / chunks.count());
    const size_t chunk = item % chunks.count();
    const int first = int(chunks.begin(chunk)), count = int(chunks.end(chunk) - first);
    std::vector<float>& columns = scratch_[thread];
    columns.resize(std::max(columns.size(), size_t(count) * c.in_chans * c.patch_size * c.patch_size));
    float* tokens = x + (int64_t(b) * t + prefix + first) * e;  // [count, E]
    patch_embed_rows_cpu(input.ptr() + b * image_size, w.patch_w.ptr(), w.patch_b.ptr(), tokens, first, count,
                         c.in_chans, c.image_height, c.image_width, c.patch_size, e, columns.data());
    add_inplace_cpu(tokens, w.pos_embed.ptr() + int64_t(prefix + first) * e, int64_t(count) * e);
  });
}

// timm's norm_pre over rows [row_begin, row_end) of the residual stream, through normed_.
void CpuEngine::pre_norm(float* x, int64_t row_begin, int64_t row_end) {
  const VitConfig& c = model_->config;
  const VitWeights& w = model_->weights;
  const int64_t e = c.embed_dim, rows = row_end - row_begin;
  float* normed = normed_.data() + row_begin * e;  // [rows, E]
  layernorm_cpu(x + row_begin * e, w.norm_pre_w.ptr(), w.norm_pre_b.ptr(), normed, rows, e, c.ln_eps);
  std::copy(normed, normed + rows * e, x + row_begin * e);
}

// LayerNorm 1 and the qkv projection of rows [row_begin, row_end).
void CpuEngine::attention_input(int layer, float* x, int64_t row_begin, int64_t row_end) {
  const VitConfig& c = model_->config;
  const VitBlockWeights& w = model_->weights.blocks[layer];
  const int64_t e = c.embed_dim, rows = row_end - row_begin;
  float* normed = normed_.data() + row_begin * e;  // [rows, E]
  layernorm_cpu(x + row_begin * e, w.norm1_w.ptr(), w.norm1_b.ptr(), normed, rows, e, c.ln_eps);
  linear_cpu(normed, w.qkv_w.ptr(), w.qkv_b.ptr(), qkv_.data() + row_begin * 3 * e, rows, 3 * e, e);
}

void CpuEngine::attention(int layer, int batch) {
  const VitConfig& c = model_->config;
  const int tokens = c.tokens(), heads = c.num_heads;
  const AttentionParams params =
      AttentionParams::from_qkv(qkv_.data(), attn_.data(), batch, tokens, heads, c.head_dim());
  if (observer_) observer_(layer, params);
  float* cls_probs = nullptr;  // [B, H, N]
  if (layer == capture_layer_) {
    captured_ = Tensor({batch, heads, tokens});
    cls_probs = captured_.ptr();
  }
  const int query_chunks = (tokens + kMaxQueryChunkRows - 1) / kMaxQueryChunkRows;
  const int query_chunk_rows = (tokens + query_chunks - 1) / query_chunks;
  std::vector<AttentionItem> items;
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < heads; ++h) {
      const bool split_rows = plan_.at(layer, h).kind == AttentionKind::Exact;
      const int step = split_rows ? query_chunk_rows : tokens;
      for (int row = 0; row < tokens; row += step) items.push_back({b, h, row, std::min(tokens, row + step)});
    }
  }
  const auto start = Clock::now();
  pool_.run(items.size(), [&](size_t index, int thread) {
    const AttentionItem& item = items[index];
    float* head_probs = cls_probs ? cls_probs + (int64_t(item.b) * heads + item.h) * tokens : nullptr;  // [N]
    run_attention_item_cpu(plan_, layer, params, item, scratch_[thread], head_probs);
  });
  timing_.attention_ms += elapsed_ms(start);
}

// The attention projection and the MLP, with their residual adds, for rows [row_begin, row_end).
void CpuEngine::attention_output_and_mlp(int layer, float* x, int64_t row_begin, int64_t row_end) {
  const VitConfig& c = model_->config;
  const VitBlockWeights& w = model_->weights.blocks[layer];
  const int64_t e = c.embed_dim, m = c.mlp_hidden, rows = row_end - row_begin;
  float* x_rows = x + row_begin * e;                  // [rows, E]
  float* normed = normed_.data() + row_begin * e;     // [rows, E]
  float* delta = delta_.data() + row_begin * e;       // [rows, E]
  float* hidden = hidden_.data() + row_begin * m;     // [rows, M]
  linear_cpu(attn_.data() + row_begin * e, w.proj_w.ptr(), w.proj_b.ptr(), delta, rows, e, e);
  add_inplace_cpu(x_rows, delta, rows * e);
  layernorm_cpu(x_rows, w.norm2_w.ptr(), w.norm2_b.ptr(), normed, rows, e, c.ln_eps);
  linear_cpu(normed, w.fc1_w.ptr(), w.fc1_b.ptr(), hidden, rows, m, e);
  gelu_cpu(hidden, rows * m);
  linear_cpu(hidden, w.fc2_w.ptr(), w.fc2_b.ptr(), delta, rows, e, m);
  add_inplace_cpu(x_rows, delta, rows * e);
}

// The final LayerNorm and the classifier: of the class token (distilled: the mean of both heads, the second on
// the distillation token), or of the mean of the patch tokens.
Tensor CpuEngine::head(const float* x, int batch) {
  const VitConfig& c = model_->config;
  const VitWeights& w = model_->weights;
  const int64_t e = c.embed_dim, t = c.tokens(), classes = c.num_classes, prefix = c.num_prefix_tokens();
  Tensor logits({batch, classes});
  std::vector<float> features(e), dist_logits(classes), pooled(e), normed;
  for (int b = 0; b < batch; ++b) {
    const float* tokens = x + b * t * e;  // [T, E]
    float* out = logits.ptr() + b * classes;
    if (c.pooling == Pooling::PatchMean) {
      const float* rows = tokens + prefix * e;  // [T - prefix, E]
      if (!c.norm_after_pooling) {
        normed.resize((t - prefix) * e);
        layernorm_cpu(rows, w.norm_w.ptr(), w.norm_b.ptr(), normed.data(), t - prefix, e, c.ln_eps);
        rows = normed.data();
      }
      mean_rows_cpu(rows, pooled.data(), t - prefix, e);
      if (c.norm_after_pooling) {
        layernorm_cpu(pooled.data(), w.norm_w.ptr(), w.norm_b.ptr(), features.data(), 1, e, c.ln_eps);
      } else {
        features = pooled;
      }
      linear_cpu(features.data(), w.head_w.ptr(), w.head_b.ptr(), out, 1, classes, e);
      continue;
    }
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

  const RowChunks chunks(rows, pool_.threads());
  embed(input, x.data(), batch);
  pool_.run(chunks.count(), [&](size_t chunk, int) {
    if (c.pre_norm) pre_norm(x.data(), chunks.begin(chunk), chunks.end(chunk));
    if (c.depth > 0) attention_input(0, x.data(), chunks.begin(chunk), chunks.end(chunk));
  });
  for (int layer = 0; layer < c.depth; ++layer) {
    attention(layer, batch);
    pool_.run(chunks.count(), [&](size_t chunk, int) {
      attention_output_and_mlp(layer, x.data(), chunks.begin(chunk), chunks.end(chunk));
      if (layer + 1 < c.depth) attention_input(layer + 1, x.data(), chunks.begin(chunk), chunks.end(chunk));
    });
  }
  Tensor logits = head(x.data(), batch);
  timing_.total_ms = elapsed_ms(start);
  return logits;
}

}  // namespace

std::unique_ptr<Engine> create_cpu_engine(std::shared_ptr<const VitModel> model, const EngineOptions& options) {
  return std::make_unique<CpuEngine>(std::move(model), options);
}

}  // namespace distrvit
