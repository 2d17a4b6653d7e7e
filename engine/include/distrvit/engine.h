// Running a loaded model: one interface over the CPU and CUDA backends, with attention chosen at run time.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "distrvit/attention.h"
#include "distrvit/image.h"
#include "distrvit/model.h"
#include "distrvit/tensor.h"

namespace distrvit {

enum class DeviceKind { Cpu, Cuda };
enum class Precision { F32, F16, BF16 };

std::string precision_name(Precision precision);
Precision parse_precision(const std::string& name);  // "fp32" | "fp16" | "bf16"

// Which attention each (layer, head) runs. Empty per_layer_head means `fallback` everywhere.
struct AttentionPlan {
  AttentionSpec fallback;
  std::vector<std::vector<AttentionSpec>> per_layer_head;  // [depth][heads]
  std::string name;  // how it was given ("exact", "distr:l=64:G=2:layers=6-11", "plan:FILE")
  std::shared_ptr<const LowRankProjections> lowrank;  // needed by LowRank entries (calibrated plans)

  const AttentionSpec& at(int layer, int head) const;
  bool uniform() const;  // every (layer, head) the same as `fallback`
  // U [head_dim, rank] of a LowRank (layer, head); throws Error when the plan has no projections that fit.
  const float* lowrank_basis(int layer, int head, int head_dim) const;
};

struct EngineOptions {
  DeviceKind device = DeviceKind::Cpu;
  int cuda_index = 0;
  Precision precision = Precision::F32;
  int threads = 0;  // CPU threads; 0 = all cores
};

struct ForwardTiming {
  double total_ms = 0;
  double attention_ms = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // input: [B, 3, H, W] normalized; returns logits [B, classes] (distilled: mean of both heads).
  virtual Tensor forward(const Tensor& input) = 0;

  // images: B >= 1 decoded RGB8 images of any sizes. Applies model().config.preprocess (timm's eval transform),
  // then forward; returns logits [B, classes]. CPU backend: preprocess_batch on its `threads`, then forward. CUDA
  // backend: preprocessing on the GPU (an input identical to the CPU's); last_timing() includes the pixel upload.
  virtual Tensor forward_images(const std::vector<const ImageU8*>& images);

  virtual void set_attention(const AttentionPlan& plan) = 0;
  virtual const AttentionPlan& attention() const = 0;

  // After the next forward, captured_cls_attention() holds layer `layer`'s attention
  // probabilities of the class token: [B, heads, tokens]. layer < 0 turns capturing off. Throws Error for a
  // model without a class token.
  virtual void capture_cls_attention(int layer) = 0;
  virtual Tensor captured_cls_attention() const = 0;

  // Calls `observer` with every layer's q/k/v (CPU backend only; null turns it off). Used by calibration.
  using AttentionObserver = std::function<void(int layer, const AttentionParams& params)>;
  virtual void set_attention_observer(AttentionObserver observer);

  virtual ForwardTiming last_timing() const = 0;
  virtual std::string device_name() const = 0;
  virtual const VitModel& model() const = 0;
};

// Throws Error for an unavailable device ("cuda:0: no CUDA device found", a CPU-only build, ...).
std::unique_ptr<Engine> create_engine(std::shared_ptr<const VitModel> model, const EngineOptions& options);

// Parses "cpu", "cuda", "cuda:1". "auto" picks CUDA when a device is present.
EngineOptions parse_device(const std::string& device);
bool cuda_available();

}  // namespace distrvit
