// Where `--attention plan:calibrated` finds a model's calibrated plan: a plan.json next to the checkpoint, else the
// one that ships with distrvit in models/<model name>/ (see models/README.md).
#pragma once
#include <string>

#include "distrvit/model.h"

namespace distrvit {

constexpr const char* kCalibratedPlanSpec = "plan:calibrated";

// The name plans are filed under in models/: a checkpoint folder's name, without a hub cache folder's "<org>--"
// prefix ("timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k" -> "vit_tiny_patch16_224.augreg_in21k_ft_in1k"); for a
// .safetensors file, its folder's. Empty for random weights ("random:<architecture>").
std::string model_name(const std::string& source);

// <checkpoint folder>/plan.json when it exists, else models/<model_name>/plan.json; an Error naming the model and
// every place looked at when neither does.
std::string calibrated_plan_path(const VitModel& model);

}  // namespace distrvit
