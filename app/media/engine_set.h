// The engines a pipeline runs: the configured one and, when comparing, an exact-attention twin.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "distrvit/engine.h"
#include "distrvit/model.h"
#include "pipeline_config.h"

namespace distrvit::media {

class EngineSet {
 public:
  using Report = std::function<void(const std::string& state)>;

  // Brings the engines in line with `config`: reloads the model or rebuilds engines only when model,
  // device, precision or threads changed, otherwise just swaps the attention plan. A part that fails
  // keeps what ran before; the first failure is rethrown as Error once the rest has been applied.
  void apply(const PipelineConfig& config, const Report& report);

  bool ready() const { return main_ != nullptr; }
  Engine& main() { return *main_; }
  bool comparing() const { return applied_.compare_exact; }
  Engine* exact() { return exact_.get(); }  // null unless comparing with a plan that is not exact already
  const std::shared_ptr<const VitModel>& model() const { return model_; }
  const std::string& precision() const { return precision_; }
  int builds() const { return builds_; }  // times the engines were (re)built
  int captured_layer() const { return applied_.capture_attention ? applied_.attention_layer : -1; }

 private:
  void rebuild(const PipelineConfig& config, const Report& report);
  void apply_attention(const PipelineConfig& config);
  void apply_comparison(const PipelineConfig& config);
  void apply_capture(const PipelineConfig& config);

  PipelineConfig applied_;
  bool attention_applied_ = false;
  std::shared_ptr<const VitModel> model_;
  EngineOptions options_;
  std::string precision_;
  std::unique_ptr<Engine> main_;
  std::unique_ptr<Engine> exact_;
  int builds_ = 0;
};

// `attention` resolved for `model` (plan files with their low-rank projections, plan:calibrated), with the layers
// switched off in `approximate_layers` set to exact.
AttentionPlan make_attention_plan(const std::string& attention, const std::vector<bool>& approximate_layers,
                                  const VitModel& model);

// "0-5,8,10-11" for the set indices.
std::string index_list(const std::vector<bool>& selected);

}  // namespace distrvit::media
