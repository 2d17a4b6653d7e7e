// Where `--attention plan:calibrated` finds a model's calibrated plan, and where `distrvit calibrate` puts one by
// default. Plans hold calibrated low-rank projections (model-derived weights), so the repository ships none: a
// plan is made once per machine (see models/README.md for the default model's recipe and its measured accuracy).
#pragma once
#include <string>

#include "distrvit/model.h"

namespace distrvit {

constexpr const char* kCalibratedPlanSpec = "plan:calibrated";

// The name plans are filed under: a checkpoint folder's name, without a hub cache folder's "<org>--" prefix
// ("timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k" -> "vit_tiny_patch16_224.augreg_in21k_ft_in1k"); for a
// .safetensors file, its folder's. Empty for random weights ("random:<architecture>").
std::string model_name(const std::string& source);

// <cache>/plans/<model_name>/plan.json (distrvit/hub.h's cache folder): where calibrate writes by default.
std::string cached_plan_path(const VitModel& model);

// The first that exists of: <checkpoint folder>/plan.json, cached_plan_path, $DISTRVIT_MODELS/<model_name>/plan.json;
// else an Error naming the model and every place looked at.
std::string calibrated_plan_path(const VitModel& model);

}  // namespace distrvit
