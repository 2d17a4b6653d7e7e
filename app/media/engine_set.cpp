#include "engine_set.h"

#include <algorithm>

#include "distrvit/attention_plan.h"
#include "distrvit/calibrate.h"
#include "distrvit/error.h"
#include "distrvit/hub.h"

namespace distrvit::media {
namespace {

AttentionPlan exact_plan() { return uniform_plan(AttentionSpec{}); }

// Runs `part`; remembers the first Error instead of letting it stop the remaining parts.
template <typename Part>
void attempt(std::string& first_error, Part&& part) {
  try {
    part();
  } catch (const std::exception& e) {
    if (first_error.empty()) first_error = e.what();
  }
}

}  // namespace

std::string index_list(const std::vector<bool>& selected) {
  std::string text;
  const int count = static_cast<int>(selected.size());
  for (int i = 0; i < count;) {
    if (!selected[i]) {
      ++i;
      continue;
    }
    int end = i;
    while (end + 1 < count && selected[end + 1]) ++end;
    if (!text.empty()) text += ",";
    text += end == i ? std::to_string(i) : std::to_string(i) + "-" + std::to_string(end);
    i = end + 1;
  }
  return text.empty() ? "none" : text;
}

AttentionPlan make_attention_plan(const std::string& attention, const std::vector<bool>& approximate_layers,
                                  const VitModel& model) {
  const VitConfig& config = model.config;
  AttentionPlan plan = resolve_attention(attention, model);
  const bool all_on = std::all_of(approximate_layers.begin(), approximate_layers.end(), [](bool on) { return on; });
  if (approximate_layers.empty() || all_on) return plan;
  if (static_cast<int>(approximate_layers.size()) != config.depth) {
    fail("layer switches", "{} given for a model with {} layers", approximate_layers.size(), config.depth);
  }
  std::vector<std::vector<AttentionSpec>> table(config.depth, std::vector<AttentionSpec>(config.num_heads));
  for (int layer = 0; layer < config.depth; ++layer) {
    for (int head = 0; head < config.num_heads; ++head) {
      table[layer][head] = approximate_layers[layer] ? plan.at(layer, head) : AttentionSpec{};
    }
  }
  plan.per_layer_head = std::move(table);
  plan.fallback = AttentionSpec{};
  plan.name += " @layers " + index_list(approximate_layers);
  return plan;
}

void EngineSet::apply(const PipelineConfig& config, const Report& report) {
  std::string first_error;
  if (!main_ || needs_new_engines(applied_, config)) attempt(first_error, [&] { rebuild(config, report); });
  if (main_) {
    attempt(first_error, [&] { apply_attention(config); });
    attempt(first_error, [&] { apply_comparison(config); });
    apply_capture(config);
  }
  report(main_ ? "ready" : "no engine");
  if (!first_error.empty()) throw Error(first_error);
}

void EngineSet::rebuild(const PipelineConfig& config, const Report& report) {
  std::shared_ptr<const VitModel> model = model_;
  if (!model_ || config.model != applied_.model || config.image_size != applied_.image_size) {
    const std::string spec = config.model.empty() ? default_model_spec() : config.model;
    report("loading model " + spec);
    HubOptions hub;
    hub.progress = [&](const std::string& file, size_t done, size_t total) {
      report(total ? "downloading " + file + " " + std::to_string(done * 100 / total) + " %"
                   : "downloading " + file + " " + std::to_string(done >> 20) + " MiB");
    };
    LoadOptions load;
    load.image_size = config.image_size;
    model = std::make_shared<const VitModel>(load_model(resolve_model(spec, hub), load));
  }
  EngineOptions options = parse_device(config.device);
  if (!config.precision.empty()) options.precision = parse_precision(config.precision);
  options.threads = config.threads;
  report("starting the " + config.device + " engine");
  std::unique_ptr<Engine> engine = create_engine(model, options);

  model_ = std::move(model);
  options_ = options;
  precision_ = precision_name(options.precision);
  main_ = std::move(engine);
  exact_.reset();
  ++builds_;
  attention_applied_ = false;
  applied_.model = config.model;
  applied_.image_size = config.image_size;
  applied_.device = config.device;
  applied_.precision = config.precision;
  applied_.threads = config.threads;
}

void EngineSet::apply_attention(const PipelineConfig& config) {
  if (attention_applied_ && config.attention == applied_.attention &&
      config.approximate_layers == applied_.approximate_layers) {
    return;
  }
  main_->set_attention(make_attention_plan(config.attention, config.approximate_layers, *model_));
  attention_applied_ = true;
  applied_.attention = config.attention;
  applied_.approximate_layers = config.approximate_layers;
}

void EngineSet::apply_comparison(const PipelineConfig& config) {
  applied_.compare_exact = config.compare_exact;
  const AttentionPlan& plan = main_->attention();
  if (!config.compare_exact || (plan.uniform() && plan.fallback.kind == AttentionKind::Exact)) {
    exact_.reset();
    return;
  }
  if (exact_) return;
  exact_ = create_engine(model_, options_);
  exact_->set_attention(exact_plan());
}

void EngineSet::apply_capture(const PipelineConfig& config) {
  const int depth = model_->config.depth;
  const int layer = !config.capture_attention || !model_->config.class_token ? -1
                    : config.attention_layer < 0 ? depth - 1
                                                 : std::min(config.attention_layer, depth - 1);
  main_->capture_cls_attention(layer);
  if (exact_) exact_->capture_cls_attention(layer);
  applied_.capture_attention = config.capture_attention;
  applied_.attention_layer = layer;
}

}  // namespace distrvit::media
