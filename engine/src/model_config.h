// Internal: what a checkpoint's config files say, before the tensors are looked at.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "distrvit/preprocess.h"

namespace distrvit {

struct CheckpointConfig {
  std::string architecture;
  int num_heads = 0;    // 0 = unknown
  int num_classes = 0;  // 0 = unknown (taken from the head's shape)
  std::vector<std::string> class_names;         // Hugging Face's id2label, timm's label_names, in index order
  std::vector<std::string> class_descriptions;  // timm's label_descriptions of those names, "" where none
  int patch_size = 16;
  bool distilled = false;
  bool patch_mean = false;  // global_pool "avg"
  bool hugging_face = false;
  bool image_size_known = false;
  float ln_eps = 1e-6f;
  PreprocessConfig preprocess;
};

// The LayerNorm eps timm builds an architecture with: nn.LayerNorm's 1e-5 for its CLIP ViTs ("_clip_" in the
// name), 1e-6 for the others.
float timm_layer_norm_eps(const std::string& architecture);

// preprocessor_path may be empty.
CheckpointConfig read_checkpoint_config(const std::string& config_path, const std::string& preprocessor_path);

}  // namespace distrvit
