// Calibrated attention plans that ship with distrvit: models/<model name>/plan.json (see models/README.md).
#pragma once
#include <string>

#include "distrvit/model.h"

namespace distrvit {

// In --attention, the plan that ships for the model being run.
constexpr const char* kShippedPlanSpec = "plan:calibrated";

// The name plans are filed under: a checkpoint folder's name, without a hub cache folder's "<org>--" prefix
// ("timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k" -> "vit_tiny_patch16_224.augreg_in21k_ft_in1k"); for a
// .safetensors file, its folder's. Empty for random weights ("random:<architecture>").
std::string model_name(const std::string& source);

// models/<model_name(model.source)>/plan.json; an Error naming the model and the folders searched when none ships.
std::string shipped_plan_path(const VitModel& model);

}  // namespace distrvit
