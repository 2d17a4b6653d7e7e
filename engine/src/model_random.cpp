// Models with random weights, for benchmarks that need no checkpoint.
#include <random>
#include <regex>

#include "distrvit/error.h"
#include "distrvit/model.h"
#include "model_config.h"

namespace distrvit {
namespace {

struct Size {
  const char* tag;
  int embed, depth, heads;
};
constexpr Size kSizes[] = {{"tiny", 192, 12, 3}, {"small", 384, 12, 6}, {"medium", 512, 12, 8},
                           {"base", 768, 12, 12}, {"large", 1024, 24, 16}, {"huge", 1280, 32, 16}};

void fill(Tensor& t, std::vector<int64_t> shape, std::mt19937_64& rng, float stddev, float mean = 0) {
  t = Tensor(std::move(shape));
  std::normal_distribution<float> dist(mean, stddev);
  for (float& x : t.data) x = dist(rng);
}

// The layout words between the patch size and the image size of a timm name ("_clip", "_reg4_gap").
void apply_traits(const std::string& architecture, const std::string& traits, VitConfig& c) {
  static const std::regex kWord("_([a-z]+)(\\d*)");
  for (auto it = std::sregex_iterator(traits.begin(), traits.end(), kWord); it != std::sregex_iterator(); ++it) {
    const std::string word = (*it)[1], number = (*it)[2];
    if (word == "clip" && number.empty()) {
      c.pre_norm = true;
    } else if (word == "reg" && !number.empty()) {
      c.register_tokens = std::stoi(number);
    } else if (word == "gap" && number.empty()) {
      c.class_token = false;
      c.pooling = Pooling::PatchMean;
      c.norm_after_pooling = true;
    } else {
      fail(architecture, "unknown layout word '{}{}' (random models know clip, reg<N> and gap)", word, number);
    }
  }
}

}  // namespace

VitModel random_model(const std::string& architecture, int image_size, uint64_t seed) {
  std::smatch match;
  if (!std::regex_match(architecture, match,
                        std::regex(R"((vit|deit3?)_([a-z]+)(_distilled)?_patch(\d+)((?:_[a-z]+\d*)*)_(\d+)(\..*)?)"))) {
    fail(architecture, "unknown architecture (expected e.g. vit_base_patch16_224)");
  }
  const Size* size = nullptr;
  for (const Size& s : kSizes) {
    if (match[2] == s.tag) size = &s;
  }
  if (!size) fail(architecture, "unknown model size '{}'", match[2].str());
  VitModel model;
  model.source = "random:" + architecture;
  VitConfig& c = model.config;
  c.architecture = architecture;
  c.embed_dim = size->embed;
  c.depth = size->depth;
  c.num_heads = size->heads;
  c.mlp_hidden = 4 * size->embed;
  c.patch_size = std::stoi(match[4]);
  c.distilled = match[3].matched;
  apply_traits(architecture, match[5], c);
  c.ln_eps = timm_layer_norm_eps(architecture);
  c.image_height = c.image_width = image_size > 0 ? image_size : std::stoi(match[6]);
  if (c.image_height % c.patch_size) fail(architecture, "image size {} is not a multiple of the patch", c.image_height);
  c.preprocess.input_height = c.preprocess.input_width = c.image_height;

  std::mt19937_64 rng(seed);
  VitWeights& w = model.weights;
  const int64_t e = c.embed_dim, m = c.mlp_hidden, p = c.patch_size;
  fill(w.patch_w, {e, 3, p, p}, rng, 0.02f);
  fill(w.patch_b, {e}, rng, 0.02f);
  if (c.class_token) fill(w.cls_token, {1, 1, e}, rng, 0.02f);
  if (c.distilled) fill(w.dist_token, {1, 1, e}, rng, 0.02f);
  if (c.register_tokens) fill(w.reg_token, {1, c.register_tokens, e}, rng, 0.02f);
  if (c.pre_norm) {
    fill(w.norm_pre_w, {e}, rng, 0.02f, 1.0f);
    fill(w.norm_pre_b, {e}, rng, 0.02f);
  }
  fill(w.pos_embed, {1, c.tokens(), e}, rng, 0.02f);
  w.blocks.resize(c.depth);
  for (VitBlockWeights& b : w.blocks) {
    fill(b.norm1_w, {e}, rng, 0.02f, 1.0f);
    fill(b.norm1_b, {e}, rng, 0.02f);
    fill(b.qkv_w, {3 * e, e}, rng, 0.02f);
    fill(b.qkv_b, {3 * e}, rng, 0.02f);
    fill(b.proj_w, {e, e}, rng, 0.02f);
    fill(b.proj_b, {e}, rng, 0.02f);
    fill(b.norm2_w, {e}, rng, 0.02f, 1.0f);
    fill(b.norm2_b, {e}, rng, 0.02f);
    fill(b.fc1_w, {m, e}, rng, 0.02f);
    fill(b.fc1_b, {m}, rng, 0.02f);
    fill(b.fc2_w, {e, m}, rng, 0.02f);
    fill(b.fc2_b, {e}, rng, 0.02f);
  }
  fill(w.norm_w, {e}, rng, 0.02f, 1.0f);
  fill(w.norm_b, {e}, rng, 0.02f);
  fill(w.head_w, {c.num_classes, e}, rng, 0.02f);
  fill(w.head_b, {c.num_classes}, rng, 0.02f);
  if (c.distilled) {
    fill(w.head_dist_w, {c.num_classes, e}, rng, 0.02f);
    fill(w.head_dist_b, {c.num_classes}, rng, 0.02f);
  }
  return model;
}

}  // namespace distrvit
