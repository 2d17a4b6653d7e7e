// A Vision Transformer (timm VisionTransformer / DeiT / DeiT III, Hugging Face ViTForImageClassification):
// its configuration, its weights in float32 on the host, and loading from a checkpoint folder.
#pragma once
#include <string>
#include <vector>

#include "distrvit/preprocess.h"
#include "distrvit/tensor.h"

namespace distrvit {

// What the classifier reads: the class token (and DeiT's distillation token), or the mean of the patch tokens
// (timm's global_pool "avg").
enum class Pooling { ClassToken, PatchMean };

struct VitConfig {
  std::string architecture;  // e.g. "vit_tiny_patch16_224", "deit_small_distilled_patch16_224"
  int image_height = 224;    // input size the model runs at
  int image_width = 224;
  int patch_size = 16;
  int in_chans = 3;
  int embed_dim = 192;
  int depth = 12;
  int num_heads = 3;
  int mlp_hidden = 768;
  int num_classes = 1000;
  // The checkpoint's own class names (Hugging Face's id2label; timm's label_names, for ImageNet its synsets) and
  // their descriptions (timm's label_descriptions; "" where none). Empty when the checkpoint names none.
  std::vector<std::string> class_names;
  std::vector<std::string> class_descriptions;
  bool distilled = false;  // DeiT: dist token + head_dist, inference averages both heads
  bool class_token = true;
  int register_tokens = 0;  // timm's reg_token rows, after the class token
  Pooling pooling = Pooling::ClassToken;
  // PatchMean only: the final LayerNorm (norm_w, norm_b) comes after the mean (timm's fc_norm) instead of
  // normalising every token before it. For ClassToken both orders are the same.
  bool norm_after_pooling = false;
  bool pre_norm = false;  // a LayerNorm of the tokens before the first block (timm's norm_pre: CLIP ViTs)
  float ln_eps = 1e-6f;
  PreprocessConfig preprocess;

  int head_dim() const { return embed_dim / num_heads; }
  int grid_h() const { return image_height / patch_size; }
  int grid_w() const { return image_width / patch_size; }
  int num_patches() const { return grid_h() * grid_w(); }
  int num_prefix_tokens() const { return (class_token ? 1 : 0) + (distilled ? 1 : 0) + register_tokens; }
  // Prefix tokens the classifier reads (class, then distillation); 0 for PatchMean.
  int head_tokens() const { return pooling == Pooling::ClassToken ? (distilled ? 2 : 1) : 0; }
  int tokens() const { return num_patches() + num_prefix_tokens(); }
};

struct VitBlockWeights {
  Tensor norm1_w, norm1_b;  // [E]
  Tensor qkv_w;             // [3E, E]  rows: q (E), k (E), v (E); within each, head-major (H, D)
  Tensor qkv_b;             // [3E]
  Tensor proj_w;            // [E, E]  LayerScale's gamma (DeiT III's ls1), if any, folded into its rows
  Tensor proj_b;            // [E]     and entries
  Tensor norm2_w, norm2_b;  // [E]
  Tensor fc1_w;             // [M, E]
  Tensor fc1_b;             // [M]
  Tensor fc2_w;             // [E, M]  ls2's gamma folded in, as in proj
  Tensor fc2_b;             // [E]
};

struct VitWeights {
  Tensor patch_w;     // [E, C, P, P]
  Tensor patch_b;     // [E]
  Tensor cls_token;   // [1, 1, E] (class_token only)
  Tensor dist_token;  // [1, 1, E] (distilled only)
  Tensor reg_token;   // [1, R, E] (register_tokens R > 0 only)
  Tensor norm_pre_w, norm_pre_b;  // [E] (pre_norm only)
  Tensor pos_embed;   // [1, T, E]  T = prefix tokens + grid_h * grid_w at the run resolution; the prefix rows are
                      // zero for checkpoints that store none (timm's no_embed_class, DeiT III)
  std::vector<VitBlockWeights> blocks;
  Tensor norm_w, norm_b;          // [E] timm's norm, or its fc_norm (norm_after_pooling)
  Tensor head_w;                  // [classes, E]
  Tensor head_b;                  // [classes]
  Tensor head_dist_w, head_dist_b;  // distilled only
};

struct VitModel {
  VitConfig config;
  VitWeights weights;
  std::string source;  // folder or file it came from
  int64_t parameter_count() const;
};

struct LoadOptions {
  int image_size = 0;  // run at this square input size (pos_embed resampled); 0 = the checkpoint's
};

// Loads a checkpoint folder (model.safetensors + config.json [+ preprocessor_config.json]) or a
// .safetensors file (config.json beside it). Accepts timm and Hugging Face key layouts.
// Throws Error naming the file and the problem for anything missing, extra or misshapen.
VitModel load_model(const std::string& path, const LoadOptions& options = {});

// A model of a named timm architecture ("vit_base_patch16_224", "deit_tiny_distilled_patch16_224",
// "deit3_huge_patch14_224", "vit_base_patch16_reg4_gap_256", "vit_base_patch16_clip_224") with seeded random
// weights, for speed measurements. image_size 0 = the size in the name.
VitModel random_model(const std::string& architecture, int image_size = 0, uint64_t seed = 0);

// Resamples a [1, prefix + gh*gw, E] position embedding to a new grid (bicubic, as timm does).
Tensor resample_pos_embed(const Tensor& pos_embed, int prefix_tokens, int old_gh, int old_gw, int new_gh, int new_gw);

}  // namespace distrvit
