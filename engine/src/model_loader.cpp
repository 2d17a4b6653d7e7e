// Building a VitModel from a checkpoint folder: config, tensors under timm names, shape checks.
#include <filesystem>
#include <set>

#include "checkpoint_keys.h"
#include "distrvit/error.h"
#include "distrvit/model.h"
#include "distrvit/safetensors.h"
#include "model_config.h"

namespace distrvit {
namespace fs = std::filesystem;
namespace {

struct CheckpointFiles {
  std::string weights;
  std::string config;
  std::string preprocessor;  // may be empty
};

CheckpointFiles locate_files(const std::string& path) {
  CheckpointFiles files;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "no such file or folder");
  fs::path folder = path;
  if (fs::is_directory(path, ec)) {
    files.weights = (folder / "model.safetensors").string();
    if (!fs::exists(files.weights, ec)) fail(path, "no model.safetensors in this folder");
  } else {
    files.weights = path;
    folder = folder.parent_path();
  }
  files.config = (folder / "config.json").string();
  if (!fs::exists(files.config, ec)) fail(files.config, "missing (every checkpoint needs its config.json)");
  const fs::path preprocessor = folder / "preprocessor_config.json";
  if (fs::exists(preprocessor, ec)) files.preprocessor = preprocessor.string();
  return files;
}

// Takes tensors out of the map by name, checking shapes; whatever is left at the end is unexpected.
class TensorTaker {
 public:
  TensorTaker(std::map<std::string, Tensor> tensors, std::string file) : tensors_(std::move(tensors)), file_(std::move(file)) {}

  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  const Tensor& peek(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) fail(file_, "missing tensor '{}'", name);
    return it->second;
  }
  Tensor take(const std::string& name, const std::vector<int64_t>& shape) {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) fail(file_, "missing tensor '{}'", name);
    if (it->second.shape != shape) {
      fail(file_, "tensor '{}' has shape {}, expected {}", name, shape_string(it->second.shape), shape_string(shape));
    }
    Tensor out = std::move(it->second);
    tensors_.erase(it);
    return out;
  }
  void expect_empty() const {
    if (!tensors_.empty()) fail(file_, "unexpected tensor '{}' (not part of a supported ViT/DeiT)", tensors_.begin()->first);
  }
  int count_blocks() const {
    int depth = 0;
    while (tensors_.count("blocks." + std::to_string(depth) + ".norm1.weight")) ++depth;
    return depth;
  }

 private:
  std::map<std::string, Tensor> tensors_;
  std::string file_;
};

void infer_dimensions(const TensorTaker& tensors, const CheckpointConfig& checkpoint, const std::string& file,
                      VitConfig& config) {
  const Tensor& patch = tensors.peek("patch_embed.proj.weight");
  if (patch.shape.size() != 4 || patch.shape[2] != patch.shape[3]) {
    fail(file, "tensor 'patch_embed.proj.weight' has shape {}, expected [E, C, P, P]", shape_string(patch.shape));
  }
  config.embed_dim = static_cast<int>(patch.shape[0]);
  config.in_chans = static_cast<int>(patch.shape[1]);
  config.patch_size = static_cast<int>(patch.shape[2]);
  config.depth = tensors.count_blocks();
  if (config.depth == 0) fail(file, "missing tensor 'blocks.0.norm1.weight' (no transformer blocks)");
  const Tensor& fc1 = tensors.peek("blocks.0.mlp.fc1.weight");
  if (fc1.shape.size() != 2) fail(file, "tensor 'blocks.0.mlp.fc1.weight' has shape {}, expected [M, E]", shape_string(fc1.shape));
  config.mlp_hidden = static_cast<int>(fc1.shape[0]);
  const Tensor& head = tensors.peek("head.weight");
  if (head.shape.size() != 2) fail(file, "tensor 'head.weight' has shape {}, expected [classes, E]", shape_string(head.shape));
  config.num_classes = static_cast<int>(head.shape[0]);
  if (checkpoint.num_classes && checkpoint.num_classes != config.num_classes) {
    fail(file, "head has {} classes but the config says {}", config.num_classes, checkpoint.num_classes);
  }
  if (!checkpoint.class_names.empty() && int(checkpoint.class_names.size()) != config.num_classes) {
    fail(file, "head has {} classes but the config names {}", config.num_classes, checkpoint.class_names.size());
  }
  config.class_names = checkpoint.class_names;
  config.class_descriptions = checkpoint.class_descriptions;
  config.num_heads = checkpoint.num_heads;
  if (config.num_heads <= 0) {
    fail(file, "cannot tell the number of attention heads of '{}' (name has no tiny/small/base/large and the config none)",
         checkpoint.architecture);
  }
  if (config.embed_dim % config.num_heads != 0) {
    fail(file, "embedding width {} is not divisible by {} heads", config.embed_dim, config.num_heads);
  }
  config.distilled = tensors.has("dist_token");
  config.class_token = tensors.has("cls_token");
  if (tensors.has("reg_token")) {
    const Tensor& registers = tensors.peek("reg_token");
    if (registers.shape.size() != 3 || registers.shape[0] != 1 || registers.shape[1] < 1 ||
        registers.shape[2] != config.embed_dim) {
      fail(file, "tensor 'reg_token' has shape {}, expected [1, R, {}]", shape_string(registers.shape),
           config.embed_dim);
    }
    config.register_tokens = static_cast<int>(registers.shape[1]);
  }
  config.pooling = checkpoint.patch_mean ? Pooling::PatchMean : Pooling::ClassToken;
  config.norm_after_pooling = tensors.has("fc_norm.weight");
  config.pre_norm = tensors.has("norm_pre.weight");
  if (config.pooling == Pooling::ClassToken && !config.class_token) {
    fail(file, "missing tensor 'cls_token' (global_pool 'token' classifies the class token)");
  }
  if (config.pooling == Pooling::PatchMean && config.distilled) {
    fail(file, "a distilled model with global_pool 'avg' is not supported");
  }
}

// How the stored position embedding is laid out: a square grid of patch positions, after one row per prefix
// token, or (timm's no_embed_class, as in DeiT III) without them: the prefix tokens then get no position.
struct StoredPosEmbed {
  int grid_side = 0;
  bool has_prefix_rows = true;
};

bool is_square(int64_t n, int& side) {
  side = 0;
  if (n <= 0) return false;
  while (int64_t(side + 1) * (side + 1) <= n) ++side;
  return int64_t(side) * side == n;
}

StoredPosEmbed stored_pos_embed_layout(const Tensor& pos_embed, int prefix, const std::string& file) {
  if (pos_embed.shape.size() != 3 || pos_embed.shape[0] != 1) {
    fail(file, "tensor 'pos_embed' has shape {}, expected [1, T, E]", shape_string(pos_embed.shape));
  }
  const int64_t rows = pos_embed.shape[1];
  StoredPosEmbed layout;
  if (is_square(rows - prefix, layout.grid_side)) return layout;
  layout.has_prefix_rows = false;
  if (is_square(rows, layout.grid_side)) return layout;
  fail(file, "pos_embed holds {} rows: neither {} prefix token(s) and a square grid nor a square grid", rows, prefix);
}

// [1, P, E] -> [1, prefix + P, E] with zero rows first: the same sums as adding nothing to the prefix tokens.
Tensor with_zero_prefix_rows(const Tensor& pos_embed, int prefix) {
  const int64_t e = pos_embed.shape[2];
  Tensor out({1, prefix + pos_embed.shape[1], e});
  std::copy(pos_embed.data.begin(), pos_embed.data.end(), out.data.begin() + prefix * e);
  return out;
}

// timm's LayerScale (x * gamma after a branch), folded into the branch's last product: row j of W and b[j]
// times gamma[j].
void fold_layer_scale(const Tensor& gamma, Tensor& weight, Tensor& bias) {
  const int64_t cols = weight.shape[1];
  for (int64_t row = 0; row < weight.shape[0]; ++row) {
    float* w = weight.ptr() + row * cols;
    for (int64_t col = 0; col < cols; ++col) w[col] *= gamma.data[row];
    bias.data[row] *= gamma.data[row];
  }
}

void take_block(TensorTaker& tensors, int index, const VitConfig& c, VitBlockWeights& block) {
  const std::string p = "blocks." + std::to_string(index) + ".";
  const int64_t e = c.embed_dim, m = c.mlp_hidden;
  block.norm1_w = tensors.take(p + "norm1.weight", {e});
  block.norm1_b = tensors.take(p + "norm1.bias", {e});
  block.qkv_w = tensors.take(p + "attn.qkv.weight", {3 * e, e});
  // timm's qkv_bias=False (vit_medium_patch16_gap_256) stores none: a zero bias.
  block.qkv_b = tensors.has(p + "attn.qkv.bias") ? tensors.take(p + "attn.qkv.bias", {3 * e}) : Tensor({3 * e});
  block.proj_w = tensors.take(p + "attn.proj.weight", {e, e});
  block.proj_b = tensors.take(p + "attn.proj.bias", {e});
  block.norm2_w = tensors.take(p + "norm2.weight", {e});
  block.norm2_b = tensors.take(p + "norm2.bias", {e});
  block.fc1_w = tensors.take(p + "mlp.fc1.weight", {m, e});
  block.fc1_b = tensors.take(p + "mlp.fc1.bias", {m});
  block.fc2_w = tensors.take(p + "mlp.fc2.weight", {e, m});
  block.fc2_b = tensors.take(p + "mlp.fc2.bias", {e});
  if (tensors.has(p + "ls1.gamma")) fold_layer_scale(tensors.take(p + "ls1.gamma", {e}), block.proj_w, block.proj_b);
  if (tensors.has(p + "ls2.gamma")) fold_layer_scale(tensors.take(p + "ls2.gamma", {e}), block.fc2_w, block.fc2_b);
}

}  // namespace

int64_t VitModel::parameter_count() const {
  int64_t total = 0;
  auto add = [&](const Tensor& t) { total += t.numel(); };
  for (const Tensor* t : {&weights.patch_w, &weights.patch_b, &weights.cls_token, &weights.dist_token,
                          &weights.reg_token, &weights.pos_embed, &weights.norm_pre_w, &weights.norm_pre_b,
                          &weights.norm_w, &weights.norm_b, &weights.head_w, &weights.head_b, &weights.head_dist_w,
                          &weights.head_dist_b}) {
    add(*t);
  }
  for (const VitBlockWeights& b : weights.blocks) {
    for (const Tensor* t : {&b.norm1_w, &b.norm1_b, &b.qkv_w, &b.qkv_b, &b.proj_w, &b.proj_b, &b.norm2_w, &b.norm2_b,
                            &b.fc1_w, &b.fc1_b, &b.fc2_w, &b.fc2_b}) {
      add(*t);
    }
  }
  return total;
}

VitModel load_model(const std::string& path, const LoadOptions& options) {
  const CheckpointFiles files = locate_files(path);
  const CheckpointConfig checkpoint = read_checkpoint_config(files.config, files.preprocessor);
  const SafetensorsFile safetensors(files.weights);
  TensorTaker tensors(read_timm_tensors(safetensors), files.weights);

  VitModel model;
  model.source = path;
  VitConfig& c = model.config;
  c.architecture = checkpoint.architecture;
  c.ln_eps = checkpoint.ln_eps;
  c.preprocess = checkpoint.preprocess;
  infer_dimensions(tensors, checkpoint, files.weights, c);
  if (checkpoint.patch_size != c.patch_size) {
    fail(files.weights, "patch size {} but the config says {}", c.patch_size, checkpoint.patch_size);
  }
  if (checkpoint.distilled != c.distilled) {
    fail(files.weights, checkpoint.distilled ? "missing tensor 'dist_token' (distilled architecture)"
                                             : "unexpected tensor 'dist_token' (architecture is not distilled)");
  }

  const int prefix = c.num_prefix_tokens();
  const int64_t e = c.embed_dim;
  const StoredPosEmbed stored = stored_pos_embed_layout(tensors.peek("pos_embed"), prefix, files.weights);
  const int stored_side = stored.grid_side;
  if (options.image_size > 0) {
    c.preprocess.input_height = c.preprocess.input_width = options.image_size;
  } else if (!checkpoint.image_size_known) {
    c.preprocess.input_height = c.preprocess.input_width = stored_side * c.patch_size;
  }
  c.image_height = c.preprocess.input_height;
  c.image_width = c.preprocess.input_width;
  if (c.image_height % c.patch_size || c.image_width % c.patch_size || c.image_height <= 0 || c.image_width <= 0) {
    fail(files.config, "input size {}x{} is not a multiple of the patch size {}", c.image_height, c.image_width,
         c.patch_size);
  }

  VitWeights& w = model.weights;
  w.patch_w = tensors.take("patch_embed.proj.weight", {e, c.in_chans, c.patch_size, c.patch_size});
  // CLIP ViTs (timm's patch_bias=False) store none: a zero bias.
  w.patch_b = tensors.has("patch_embed.proj.bias") ? tensors.take("patch_embed.proj.bias", {e}) : Tensor({e});
  if (c.class_token) w.cls_token = tensors.take("cls_token", {1, 1, e});
  if (c.distilled) w.dist_token = tensors.take("dist_token", {1, 1, e});
  if (c.register_tokens) w.reg_token = tensors.take("reg_token", {1, c.register_tokens, e});
  const int stored_prefix_rows = stored.has_prefix_rows ? prefix : 0;
  w.pos_embed = tensors.take("pos_embed", {1, stored_prefix_rows + int64_t(stored_side) * stored_side, e});
  if (!stored.has_prefix_rows) w.pos_embed = with_zero_prefix_rows(w.pos_embed, prefix);
  if (c.pre_norm) {
    w.norm_pre_w = tensors.take("norm_pre.weight", {e});
    w.norm_pre_b = tensors.take("norm_pre.bias", {e});
  }
  if (stored_side != c.grid_h() || stored_side != c.grid_w()) {
    w.pos_embed = resample_pos_embed(w.pos_embed, prefix, stored_side, stored_side, c.grid_h(), c.grid_w());
  }
  w.blocks.resize(c.depth);
  for (int i = 0; i < c.depth; ++i) take_block(tensors, i, c, w.blocks[i]);
  const std::string final_norm = c.norm_after_pooling ? "fc_norm." : "norm.";
  w.norm_w = tensors.take(final_norm + "weight", {e});
  w.norm_b = tensors.take(final_norm + "bias", {e});
  w.head_w = tensors.take("head.weight", {c.num_classes, e});
  w.head_b = tensors.take("head.bias", {c.num_classes});
  if (c.distilled) {
    w.head_dist_w = tensors.take("head_dist.weight", {c.num_classes, e});
    w.head_dist_b = tensors.take("head_dist.bias", {c.num_classes});
  }
  tensors.expect_empty();
  return model;
}

}  // namespace distrvit
