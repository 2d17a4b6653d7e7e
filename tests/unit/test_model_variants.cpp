// Checkpoint layouts and architectures beyond the golden folders, built by the tests from the golden weights:
// Hugging Face key layout, 384 px (resampled position embedding), patch 32, distilled DeiT, DeiT III (LayerScale,
// no class position), patch-mean pooling and register tokens, CLIP's norm_pre, bad checkpoints.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "distrvit/engine.h"
#include "distrvit/error.h"
#include "distrvit/labels.h"
#include "distrvit/model.h"
#include "distrvit/ops_cpu.h"
#include "distrvit/safetensors.h"
#include "test_util.h"

using namespace distrvit;
namespace fs = std::filesystem;

namespace {

using TensorMap = std::map<std::string, Tensor>;

TensorMap read_all(const std::string& path) {
  const SafetensorsFile file(path);
  TensorMap tensors;
  for (const TensorInfo& info : file.tensors()) tensors[info.name] = file.to_float(info.name);
  return tensors;
}

void write_checkpoint(const fs::path& dir, const TensorMap& tensors, const nlohmann::json& config) {
  fs::create_directories(dir);
  std::vector<TensorToWrite> out;
  for (const auto& [name, tensor] : tensors) out.push_back(f32_tensor(name, tensor));
  write_safetensors((dir / "model.safetensors").string(), out);
  std::ofstream(dir / "config.json") << config.dump(2);
}

nlohmann::json timm_config(const std::string& arch, int size) {
  return {{"architecture", arch},
          {"num_classes", 1000},
          {"pretrained_cfg",
           {{"input_size", {3, size, size}}, {"interpolation", "bicubic"}, {"crop_pct", 0.9}, {"crop_mode", "center"},
            {"mean", {0.5, 0.5, 0.5}}, {"std", {0.5, 0.5, 0.5}}}}};
}

Tensor run(const std::string& dir, const Tensor& input) {
  auto model = std::make_shared<const VitModel>(load_model(dir));
  return create_engine(model, EngineOptions{})->forward(input);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape == b.shape);
  double diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, double(std::fabs(a.data[i] - b.data[i])));
  return diff;
}

Tensor random_input(int batch, int size, uint32_t seed) {
  Tensor t({batch, 3, size, size});
  uint32_t state = seed;
  for (float& x : t.data) {
    state = state * 1664525u + 1013904223u;
    x = float(state >> 8) / float(1 << 24) * 2.0f - 1.0f;
  }
  return t;
}

Tensor rows(const Tensor& t, int64_t begin, int64_t end) {  // rows [begin, end) of a [R, ...] tensor
  const int64_t row = t.numel() / t.shape[0];
  Tensor out = t;
  out.shape[0] = end - begin;
  out.data.assign(t.data.begin() + begin * row, t.data.begin() + end * row);
  return out;
}

const std::string kGoldenTiny = "vit_tiny_patch16_224";
const std::string kGoldenSmall = "deit_small_patch16_224";

// DeiT III's layout of a plain checkpoint: a position embedding without the class row, and LayerScale gammas of
// `gamma` after both branches of every block.
TensorMap deit3_layout(TensorMap tensors, float gamma) {
  const Tensor& pos = tensors.at("pos_embed");  // [1, 1 + P, E]
  const int64_t e = pos.shape[2];
  Tensor patches_only({1, pos.shape[1] - 1, e});
  std::copy(pos.data.begin() + e, pos.data.end(), patches_only.data.begin());
  tensors["pos_embed"] = patches_only;
  for (int block = 0; tensors.count("blocks." + std::to_string(block) + ".norm1.weight"); ++block) {
    for (const char* ls : {".ls1.gamma", ".ls2.gamma"}) {
      Tensor g({e});
      std::fill(g.data.begin(), g.data.end(), gamma);
      tensors["blocks." + std::to_string(block) + ls] = g;
    }
  }
  return tensors;
}

}  // namespace

TEST_CASE("model: Hugging Face key layout gives the same logits as timm's") {
  test::TempDir tmp;
  const std::string golden = test::golden_dir(kGoldenTiny).string();
  TensorMap timm = read_all(golden + "/model.safetensors");
  TensorMap hf;
  const int64_t e = 192;
  for (auto& [name, t] : timm) {
    std::string n = name;
    auto rename = [&](const std::string& from, const std::string& to) {
      const size_t at = n.find(from);
      if (at != std::string::npos) n.replace(at, from.size(), to);
    };
    if (n.find(".attn.qkv.") != std::string::npos) {
      const std::string layer = n.substr(7, n.find(".attn") - 7), kind = n.substr(n.rfind('.') + 1);
      const char* parts[] = {"query", "key", "value"};
      for (int p = 0; p < 3; ++p) {
        hf["vit.encoder.layer." + layer + ".attention.attention." + parts[p] + "." + kind] = rows(t, p * e, (p + 1) * e);
      }
      continue;
    }
    rename("blocks.", "vit.encoder.layer.");
    rename(".norm1.", ".layernorm_before.");
    rename(".norm2.", ".layernorm_after.");
    rename(".attn.proj.", ".attention.output.dense.");
    rename(".mlp.fc1.", ".intermediate.dense.");
    rename(".mlp.fc2.", ".output.dense.");
    if (n == "cls_token") n = "vit.embeddings.cls_token";
    if (n == "pos_embed") n = "vit.embeddings.position_embeddings";
    rename("patch_embed.proj.", "vit.embeddings.patch_embeddings.projection.");
    if (n.rfind("norm.", 0) == 0) n = "vit.layernorm." + n.substr(5);
    if (n.rfind("head.", 0) == 0) n = "classifier." + n.substr(5);
    hf[n] = t;
  }
  nlohmann::json config = {{"architectures", {"ViTForImageClassification"}}, {"model_type", "vit"},
                           {"hidden_size", 192}, {"num_hidden_layers", 12}, {"num_attention_heads", 3},
                           {"intermediate_size", 768}, {"hidden_act", "gelu"}, {"layer_norm_eps", 1e-6},
                           {"image_size", 224}, {"patch_size", 16}, {"num_channels", 3}};
  config["id2label"] = nlohmann::json::object();
  for (int i = 999; i >= 0; --i) config["id2label"][std::to_string(i)] = "name" + std::to_string(i);
  write_checkpoint(tmp / "hf", hf, config);
  std::ofstream(tmp / "hf" / "preprocessor_config.json")
      << R"({"do_resize": true, "size": {"height": 224, "width": 224}, "resample": 2, "do_normalize": true,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})";

  const VitModel model = load_model((tmp / "hf").string());
  CHECK(model.config.num_heads == 3);
  CHECK(model.config.preprocess.resize_to_input);
  CHECK(model.config.preprocess.interpolation == Interpolation::Bilinear);
  REQUIRE(model.config.class_names.size() == 1000);  // in index order, whatever the JSON's order
  CHECK(model.config.class_names[7] == "name7");
  CHECK(model_class_list(model.config, default_class_list()).label(7) == "name7");
  const Tensor input = random_input(2, 224, 1);
  CHECK(max_abs_diff(run((tmp / "hf").string(), input), run(golden, input)) < 1e-5);

  config["id2label"].erase("5");
  config["id2label"]["x"] = "not an index";
  std::ofstream(tmp / "hf" / "config.json") << config.dump();
  CHECK_THROWS_WITH_AS(load_model((tmp / "hf").string()),
                       doctest::Contains("id2label: 'x' is not one of the class indices 0..999"), Error);
}

TEST_CASE("model: 384 px checkpoint with a resampled position embedding") {
  test::TempDir tmp;
  const std::string golden = test::golden_dir(kGoldenTiny).string();
  TensorMap tensors = read_all(golden + "/model.safetensors");
  tensors["pos_embed"] = resample_pos_embed(tensors["pos_embed"], 1, 14, 14, 24, 24);
  CHECK(tensors["pos_embed"].shape == std::vector<int64_t>{1, 577, 192});
  write_checkpoint(tmp / "vit384", tensors, timm_config("vit_tiny_patch16_384", 384));

  const VitModel model = load_model((tmp / "vit384").string());
  CHECK(model.config.tokens() == 577);
  CHECK(model.config.preprocess.input_height == 384);
  // Asking the 224 checkpoint for 384 px resamples at load: the same model.
  LoadOptions at384;
  at384.image_size = 384;
  auto resized = std::make_shared<const VitModel>(load_model(golden, at384));
  const Tensor input = random_input(1, 384, 2);
  const Tensor a = create_engine(resized, EngineOptions{})->forward(input);
  CHECK(max_abs_diff(a, run((tmp / "vit384").string(), input)) < 1e-5);
}

TEST_CASE("model: position embedding resampling keeps constants and identity") {
  Tensor pos({1, 1 + 16, 4});
  for (int64_t i = 0; i < pos.numel(); ++i) pos.data[i] = i < 4 ? float(i) : 0.25f;
  const Tensor up = resample_pos_embed(pos, 1, 4, 4, 7, 7);
  for (int64_t i = 4; i < up.numel(); ++i) CHECK(up.data[i] == doctest::Approx(0.25f));
  for (int64_t i = 0; i < 4; ++i) CHECK(up.data[i] == float(i));
  const Tensor same = resample_pos_embed(up, 1, 7, 7, 7, 7);
  CHECK(max_abs_diff(same, up) < 1e-6);
}

TEST_CASE("model: patch 32 equals patch 16 on the subsampled image") {
  // A 32x32 kernel that is the 16x16 kernel in its top-left corner sees only the top-left 16x16 of each cell.
  test::TempDir tmp;
  TensorMap tensors = read_all(test::golden_dir(kGoldenTiny).string() + "/model.safetensors");
  tensors["pos_embed"] = resample_pos_embed(tensors["pos_embed"], 1, 14, 14, 7, 7);
  write_checkpoint(tmp / "p16", tensors, timm_config("vit_tiny_patch16_112", 112));
  const Tensor& k16 = tensors["patch_embed.proj.weight"];  // [192, 3, 16, 16]
  Tensor k32({192, 3, 32, 32});
  for (int64_t oc = 0; oc < 192 * 3; ++oc) {
    for (int y = 0; y < 16; ++y) {
      for (int x = 0; x < 16; ++x) k32.data[(oc * 32 + y) * 32 + x] = k16.data[(oc * 16 + y) * 16 + x];
    }
  }
  tensors["patch_embed.proj.weight"] = k32;
  write_checkpoint(tmp / "p32", tensors, timm_config("vit_tiny_patch32_224", 224));

  const Tensor image = random_input(1, 224, 3);
  Tensor sub({1, 3, 112, 112});
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 112; ++y) {
      for (int x = 0; x < 112; ++x) {
        sub.data[(c * 112 + y) * 112 + x] = image.data[(c * 224 + (y / 16) * 32 + y % 16) * 224 + (x / 16) * 32 + x % 16];
      }
    }
  }
  CHECK(load_model((tmp / "p32").string()).config.patch_size == 32);
  CHECK(max_abs_diff(run((tmp / "p32").string(), image), run((tmp / "p16").string(), sub)) < 1e-4);
}

TEST_CASE("model: distilled DeiT averages the class and distillation heads") {
  // With dist_token = cls_token and equal position embeddings both tokens stay identical through every block,
  // so head_dist = -head must cancel the class head exactly.
  test::TempDir tmp;
  TensorMap tensors = read_all(test::golden_dir("deit_small_patch16_224").string() + "/model.safetensors");
  tensors["dist_token"] = tensors["cls_token"];
  const Tensor& pos = tensors["pos_embed"];  // [1, 197, 384]
  Tensor pos2({1, 198, 384});
  std::copy(pos.data.begin(), pos.data.begin() + 384, pos2.data.begin());
  std::copy(pos.data.begin(), pos.data.end(), pos2.data.begin() + 384);
  tensors["pos_embed"] = pos2;
  for (const char* part : {"weight", "bias"}) {
    Tensor negated = tensors[std::string("head.") + part];
    for (float& x : negated.data) x = -x;
    tensors[std::string("head_dist.") + part] = negated;
  }
  nlohmann::json config = timm_config("deit_small_distilled_patch16_224", 224);
  write_checkpoint(tmp / "distilled", tensors, config);
  const VitModel model = load_model((tmp / "distilled").string());
  CHECK(model.config.distilled);
  CHECK(model.config.tokens() == 198);
  const Tensor logits = run((tmp / "distilled").string(), random_input(1, 224, 4));
  double largest = 0;
  for (float x : logits.data) largest = std::max(largest, double(std::fabs(x)));
  CHECK(largest < 1e-4);

  tensors.erase("dist_token");
  write_checkpoint(tmp / "missing", tensors, config);
  CHECK_THROWS_WITH_AS(load_model((tmp / "missing").string()), doctest::Contains("dist_token"), Error);
}

TEST_CASE("model: DeiT III with gammas of 1 equals the plain model whose class position is zero") {
  test::TempDir tmp;
  TensorMap plain = read_all(test::golden_dir(kGoldenSmall).string() + "/model.safetensors");
  const TensorMap deit3 = deit3_layout(plain, 1.0f);
  std::fill(plain["pos_embed"].data.begin(), plain["pos_embed"].data.begin() + 384, 0.0f);
  write_checkpoint(tmp / "plain", plain, timm_config("deit_small_patch16_224", 224));
  write_checkpoint(tmp / "deit3", deit3, timm_config("deit3_small_patch16_224", 224));
  const VitModel model = load_model((tmp / "deit3").string());
  CHECK(model.config.tokens() == 197);
  const Tensor input = random_input(2, 224, 5);
  const Tensor logits = run((tmp / "deit3").string(), input);
  CHECK(max_abs_diff(logits, run((tmp / "plain").string(), input)) < 1e-5);
  CHECK(max_abs_diff(logits, run(test::golden_dir(kGoldenSmall).string(), input)) > 1e-3);  // the class row counted

  // At another size the patch positions are resampled and the class token still gets none.
  LoadOptions at288;
  at288.image_size = 288;
  const VitModel resized = load_model((tmp / "deit3").string(), at288);
  CHECK(resized.config.tokens() == 1 + 18 * 18);
  const std::vector<float>& pos = resized.weights.pos_embed.data;
  CHECK(std::all_of(pos.begin(), pos.begin() + 384, [](float x) { return x == 0.0f; }));
}

TEST_CASE("model: DeiT III's LayerScale scales each branch by its gamma") {
  test::TempDir tmp;
  const TensorMap plain = read_all(test::golden_dir(kGoldenSmall).string() + "/model.safetensors");
  const nlohmann::json config = timm_config("deit3_small_patch16_224", 224);
  const Tensor input = random_input(1, 224, 6);

  // gamma = 1/2 is the plain model with both branches' last products halved.
  TensorMap halved = deit3_layout(plain, 1.0f);
  for (auto& [name, tensor] : halved) {
    if (name.find(".attn.proj.") != std::string::npos || name.find(".mlp.fc2.") != std::string::npos) {
      for (float& x : tensor.data) x *= 0.5f;
    }
  }
  write_checkpoint(tmp / "gamma_half", deit3_layout(plain, 0.5f), config);
  write_checkpoint(tmp / "halved", halved, config);
  CHECK(max_abs_diff(run((tmp / "gamma_half").string(), input), run((tmp / "halved").string(), input)) < 1e-5);

  // gamma = 0 shuts every block: their weights no longer matter.
  TensorMap other_blocks = deit3_layout(plain, 0.0f);
  for (auto& [name, tensor] : other_blocks) {
    if (name.find(".attn.qkv.") != std::string::npos || name.find(".mlp.fc1.") != std::string::npos) {
      for (float& x : tensor.data) x = -2.0f * x + 0.01f;
    }
  }
  write_checkpoint(tmp / "gamma_zero", deit3_layout(plain, 0.0f), config);
  write_checkpoint(tmp / "gamma_zero_other_blocks", other_blocks, config);
  const Tensor shut = run((tmp / "gamma_zero").string(), input);
  CHECK(max_abs_diff(shut, run((tmp / "gamma_zero_other_blocks").string(), input)) == 0.0);
  CHECK(max_abs_diff(shut, run((tmp / "gamma_half").string(), input)) > 1e-3);
}

// What the classifier of a model whose blocks are shut (LayerScale 0) computes with patch-mean pooling, written out:
// the patch embeddings plus their positions, averaged, normed after (fc_norm) or before the mean, then the head.
Tensor shut_patch_mean_logits(const TensorMap& t, const Tensor& image, bool norm_after_mean) {
  const int64_t e = 192, patches = 196, classes = 1000;
  std::vector<float> x(patches * e), normed(patches * e), mean(e, 0.0f), features(e);
  patch_embed_cpu(image.ptr(), t.at("patch_embed.proj.weight").ptr(), t.at("patch_embed.proj.bias").ptr(), x.data(), 1,
                  3, 224, 224, 16, int(e));
  const std::vector<float>& pos = t.at("pos_embed").data;  // [1, 196, E]: no class row
  for (int64_t i = 0; i < patches * e; ++i) x[i] += pos[i];
  const std::string norm = norm_after_mean ? "fc_norm." : "norm.";
  const float* gamma = t.at(norm + "weight").ptr();
  const float* beta = t.at(norm + "bias").ptr();
  if (!norm_after_mean) layernorm_cpu(x.data(), gamma, beta, normed.data(), patches, e, 1e-6f);
  const std::vector<float>& rows = norm_after_mean ? x : normed;
  for (int64_t p = 0; p < patches; ++p) {
    for (int64_t c = 0; c < e; ++c) mean[c] += rows[p * e + c] / float(patches);
  }
  if (norm_after_mean) layernorm_cpu(mean.data(), gamma, beta, features.data(), 1, e, 1e-6f);
  else features = mean;
  Tensor logits({1, classes});
  linear_cpu(features.data(), t.at("head.weight").ptr(), t.at("head.bias").ptr(), logits.ptr(), 1, classes, e);
  return logits;
}

TensorMap with_fc_norm(TensorMap tensors) {
  tensors["fc_norm.weight"] = tensors.at("norm.weight");
  tensors["fc_norm.bias"] = tensors.at("norm.bias");
  tensors.erase("norm.weight");
  tensors.erase("norm.bias");
  return tensors;
}

TEST_CASE("model: patch-mean pooling, with the final norm after the mean (fc_norm) or before it") {
  test::TempDir tmp;
  TensorMap shut = deit3_layout(read_all(test::golden_dir(kGoldenTiny).string() + "/model.safetensors"), 0.0f);
  shut.erase("cls_token");
  nlohmann::json config = timm_config("vit_tiny_patch16_224", 224);
  config["global_pool"] = "avg";
  write_checkpoint(tmp / "norm_before", shut, config);
  write_checkpoint(tmp / "fc_norm", with_fc_norm(shut), config);

  const VitModel model = load_model((tmp / "fc_norm").string());
  CHECK(model.config.pooling == Pooling::PatchMean);
  CHECK(model.config.norm_after_pooling);
  CHECK_FALSE(model.config.class_token);
  CHECK(model.config.tokens() == 196);
  CHECK_FALSE(load_model((tmp / "norm_before").string()).config.norm_after_pooling);

  const Tensor image = random_input(1, 224, 7);
  for (bool norm_after_mean : {false, true}) {
    CAPTURE(norm_after_mean);
    const Tensor logits = run((tmp / (norm_after_mean ? "fc_norm" : "norm_before")).string(), image);
    const TensorMap& weights = norm_after_mean ? with_fc_norm(shut) : shut;
    CHECK(max_abs_diff(logits, shut_patch_mean_logits(weights, image, norm_after_mean)) < 1e-4);
  }
}

TEST_CASE("model: register tokens are attended to but not classified, and a model without a class token") {
  test::TempDir tmp;
  const TensorMap plain = read_all(test::golden_dir(kGoldenTiny).string() + "/model.safetensors");
  nlohmann::json config = timm_config("vit_tiny_patch16_224", 224);
  config["global_pool"] = "avg";
  auto with_registers = [](TensorMap tensors, float value) {
    Tensor registers({1, 4, 192});
    for (int64_t i = 0; i < registers.numel(); ++i) registers.data[i] = value * float(i % 7 - 3);
    tensors["reg_token"] = registers;
    tensors.erase("cls_token");
    return tensors;
  };
  const Tensor image = random_input(1, 224, 8);
  // Blocks shut: the registers cannot reach the patches, so the logits are those of the model without them.
  write_checkpoint(tmp / "shut", with_registers(deit3_layout(plain, 0.0f), 0.5f), config);
  TensorMap shut_no_registers = deit3_layout(plain, 0.0f);
  shut_no_registers.erase("cls_token");
  write_checkpoint(tmp / "shut_no_registers", shut_no_registers, config);
  const VitModel model = load_model((tmp / "shut").string());
  CHECK(model.config.register_tokens == 4);
  CHECK(model.config.num_prefix_tokens() == 4);
  CHECK(model.config.tokens() == 200);
  CHECK(max_abs_diff(run((tmp / "shut").string(), image), run((tmp / "shut_no_registers").string(), image)) < 1e-5);
  // Blocks open: other register values give other logits.
  write_checkpoint(tmp / "registers_a", with_registers(deit3_layout(plain, 1.0f), 0.5f), config);
  write_checkpoint(tmp / "registers_b", with_registers(deit3_layout(plain, 1.0f), -0.5f), config);
  CHECK(max_abs_diff(run((tmp / "registers_a").string(), image), run((tmp / "registers_b").string(), image)) > 1e-3);

  auto no_class_token = std::make_shared<const VitModel>(load_model((tmp / "registers_a").string()));
  CHECK_THROWS_WITH_AS(create_engine(no_class_token, EngineOptions{})->capture_cls_attention(3),
                       doctest::Contains("no class token"), Error);
  write_checkpoint(tmp / "token_pool", with_registers(plain, 0.5f), timm_config("vit_tiny_patch16_224", 224));
  CHECK_THROWS_WITH_AS(load_model((tmp / "token_pool").string()),
                       doctest::Contains("missing tensor 'cls_token' (global_pool 'token'"), Error);
}

TEST_CASE("model: CLIP ViTs: norm_pre before the first block, LayerNorm eps 1e-5") {
  // With the blocks shut the classifier sees final_norm(norm_pre(x)). A norm_pre of one scale and one shift for
  // every channel changes nothing there (a LayerNorm ignores both, up to eps); one per channel does.
  test::TempDir tmp;
  const TensorMap shut = deit3_layout(read_all(test::golden_dir(kGoldenTiny).string() + "/model.safetensors"), 0.0f);
  auto with_norm_pre = [&](float scale, float shift, float per_channel) {
    TensorMap tensors = shut;
    Tensor weight({192}), bias({192});
    for (int i = 0; i < 192; ++i) {
      weight.data[i] = scale + per_channel * float(i % 5);
      bias.data[i] = shift + per_channel * float(i % 3);
    }
    tensors["norm_pre.weight"] = weight;
    tensors["norm_pre.bias"] = bias;
    return tensors;
  };
  const nlohmann::json config = timm_config("vit_tiny_patch16_clip_224", 224);
  write_checkpoint(tmp / "plain", shut, config);
  write_checkpoint(tmp / "uniform", with_norm_pre(2.0f, 0.3f, 0.0f), config);
  write_checkpoint(tmp / "per_channel", with_norm_pre(2.0f, 0.3f, 0.4f), config);
  const VitModel model = load_model((tmp / "uniform").string());
  CHECK(model.config.pre_norm);
  CHECK(model.config.ln_eps == 1e-5f);
  CHECK(load_model(test::golden_dir(kGoldenTiny).string()).config.ln_eps == 1e-6f);
  const Tensor image = random_input(1, 224, 10);
  const Tensor plain = run((tmp / "plain").string(), image);
  CHECK(max_abs_diff(run((tmp / "uniform").string(), image), plain) < 1e-3);
  CHECK(max_abs_diff(run((tmp / "per_channel").string(), image), plain) > 1e-2);
}

TEST_CASE("model: checkpoints without qkv or patch biases (timm's qkv_bias, patch_bias False) run with zero ones") {
  test::TempDir tmp;
  TensorMap zero_bias = read_all(test::golden_dir(kGoldenTiny).string() + "/model.safetensors");
  std::fill(zero_bias["patch_embed.proj.bias"].data.begin(), zero_bias["patch_embed.proj.bias"].data.end(), 0.0f);
  TensorMap no_bias = zero_bias;
  no_bias.erase("patch_embed.proj.bias");
  for (int block = 0; block < 12; ++block) {
    const std::string name = "blocks." + std::to_string(block) + ".attn.qkv.bias";
    std::fill(zero_bias[name].data.begin(), zero_bias[name].data.end(), 0.0f);
    no_bias.erase(name);
  }
  const nlohmann::json config = timm_config("vit_tiny_patch16_224", 224);
  write_checkpoint(tmp / "zero_bias", zero_bias, config);
  write_checkpoint(tmp / "no_bias", no_bias, config);
  const Tensor image = random_input(1, 224, 9);
  CHECK(max_abs_diff(run((tmp / "no_bias").string(), image), run((tmp / "zero_bias").string(), image)) == 0.0);
}

TEST_CASE("model: random models (bench --random) take timm's layout words clip, reg<N> and gap") {
  const VitConfig gap = random_model("vit_base_patch16_reg4_gap_256").config;
  CHECK(gap.register_tokens == 4);
  CHECK_FALSE(gap.class_token);
  CHECK(gap.pooling == Pooling::PatchMean);
  CHECK(gap.tokens() == 4 + 16 * 16);
  const VitConfig clip = random_model("vit_tiny_patch16_clip_224.laion2b_ft_in1k").config;
  CHECK(clip.pre_norm);
  CHECK(clip.ln_eps == 1e-5f);
  CHECK(clip.class_token);
  CHECK(random_model("deit3_small_patch16_384").config.tokens() == 1 + 24 * 24);
  auto tiny_gap = std::make_shared<const VitModel>(random_model("vit_tiny_patch16_reg1_gap_64", 0, 4));
  CHECK(create_engine(tiny_gap, EngineOptions{})->forward(random_input(1, 64, 11)).shape ==
        std::vector<int64_t>{1, 1000});
  CHECK_THROWS_WITH_AS(random_model("vit_tiny_patch16_clip_quickgelu_224"), doctest::Contains("'quickgelu'"), Error);
}

TEST_CASE("model: class names: the checkpoint's own, ImageNet's for 1000 classes, else numbers") {
  test::TempDir tmp;
  TensorMap tensors = read_all(test::golden_dir(kGoldenTiny).string() + "/model.safetensors");
  const ClassList imagenet = default_class_list();
  const VitModel plain = load_model(test::golden_dir(kGoldenTiny).string());
  CHECK(plain.config.class_names.empty());
  CHECK(model_class_list(plain.config, imagenet).label(0) == "tench");
  CHECK_NOTHROW(require_imagenet_classes(plain.config, "plain"));

  // A 10-class head: no ImageNet names, and no ImageNet validation.
  tensors["head.weight"] = rows(tensors.at("head.weight"), 0, 10);
  tensors["head.bias"] = rows(tensors.at("head.bias"), 0, 10);
  nlohmann::json config = timm_config("vit_tiny_patch16_224", 224);
  config["num_classes"] = 10;
  write_checkpoint(tmp / "ten", tensors, config);
  const VitModel ten = load_model((tmp / "ten").string());
  CHECK(model_class_list(ten.config, imagenet).label(3) == "class 3");
  CHECK_THROWS_WITH_AS(require_imagenet_classes(ten.config, "ten"),
                       doctest::Contains("ten: the model has 10 classes, and images are labelled by ImageNet-1k's"),
                       Error);
  // timm's label_names name them.
  config["label_names"] = nlohmann::json::array();
  for (int i = 0; i < 10; ++i) config["label_names"].push_back("digit " + std::to_string(i));
  write_checkpoint(tmp / "named", tensors, config);
  CHECK(model_class_list(load_model((tmp / "named").string()).config, imagenet).label(3) == "digit 3");
  // As timm writes them for ImageNet: synsets by class index, with descriptions, or described by ImageNet's list.
  nlohmann::json synsets = nlohmann::json::object();
  for (int i = 0; i < 10; ++i) synsets[std::to_string(9 - i)] = imagenet.synsets[9 - i];
  config["label_names"] = synsets;
  config["label_descriptions"] = {{imagenet.synsets[2], "great white shark, white shark"}};
  write_checkpoint(tmp / "synsets", tensors, config);
  const ClassList by_synset = model_class_list(load_model((tmp / "synsets").string()).config, imagenet);
  CHECK(by_synset.label(0) == "tench");
  CHECK(by_synset.label(2) == "great white shark");
  CHECK(by_synset.synsets.at(1) == imagenet.synsets[1]);
  config["label_names"].erase("9");
  write_checkpoint(tmp / "nine_names", tensors, config);
  CHECK_THROWS_WITH_AS(load_model((tmp / "nine_names").string()), doctest::Contains("the config names 9"), Error);
  config["label_names"] = "digits";
  write_checkpoint(tmp / "bad_names", tensors, config);
  CHECK_THROWS_WITH_AS(load_model((tmp / "bad_names").string()), doctest::Contains("'label_names' must be"), Error);
}

TEST_CASE("model: bad checkpoints are clear errors") {
  test::TempDir tmp;
  const TensorMap good = read_all(test::golden_dir(kGoldenTiny).string() + "/model.safetensors");
  const nlohmann::json config = timm_config("vit_tiny_patch16_224", 224);
  auto expect_error = [&](const std::string& name, TensorMap tensors, const nlohmann::json& cfg, const std::string& text) {
    write_checkpoint(tmp / name, tensors, cfg);
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(load_model((tmp / name).string()), doctest::Contains(text.c_str()), Error);
  };
  TensorMap missing = good;
  missing.erase("blocks.3.mlp.fc2.bias");
  expect_error("missing", missing, config, "missing tensor 'blocks.3.mlp.fc2.bias'");
  TensorMap extra = good;
  extra["blocks.0.attn.extra"] = good.at("norm.bias");
  expect_error("extra", extra, config, "unexpected tensor 'blocks.0.attn.extra'");
  TensorMap misshapen = good;
  misshapen["blocks.2.attn.proj.weight"] = Tensor({192, 191});
  expect_error("misshapen", misshapen, config, "tensor 'blocks.2.attn.proj.weight' has shape [192,191], expected [192,192]");
  TensorMap bad_gamma = deit3_layout(good, 1.0f);
  bad_gamma["blocks.4.ls2.gamma"] = Tensor({191});
  expect_error("bad_gamma", bad_gamma, config, "tensor 'blocks.4.ls2.gamma' has shape [191], expected [192]");
  TensorMap odd_positions = good;
  odd_positions["pos_embed"] = Tensor({1, 195, 192});
  expect_error("odd_positions", odd_positions, config,
               "pos_embed holds 195 rows: neither 1 prefix token(s) and a square grid nor a square grid");
  TensorMap bad_registers = good;
  bad_registers["reg_token"] = Tensor({4, 192});
  expect_error("bad_registers", bad_registers, config, "tensor 'reg_token' has shape [4,192], expected [1, R, 192]");
  nlohmann::json map_pool = config;
  map_pool["global_pool"] = "map";
  expect_error("map_pool", good, map_pool, "global_pool 'map' is not supported (only 'token' and 'avg')");
  expect_error("quick_gelu", good, timm_config("vit_base_patch16_clip_quickgelu_224", 224),
               "uses quick GELU, which is not supported");
  nlohmann::json quick_gelu_args = config;
  quick_gelu_args["model_args"] = {{"act_layer", "quick_gelu"}};
  expect_error("quick_gelu_args", good, quick_gelu_args, "model_args act_layer \"quick_gelu\" is not supported");
  expect_error("unknown_arch", good, timm_config("resnet50", 224), "unknown architecture 'resnet50'");
  nlohmann::json no_heads = timm_config("vit_mystery_patch16_224", 224);
  expect_error("no_heads", good, no_heads, "number of attention heads");

  fs::create_directories(tmp / "no_config");
  fs::copy_file(test::golden_dir(kGoldenTiny) / "model.safetensors", tmp / "no_config" / "model.safetensors");
  CHECK_THROWS_WITH_AS(load_model((tmp / "no_config").string()), doctest::Contains("config.json: missing"), Error);
  CHECK_THROWS_WITH_AS(load_model((tmp / "nowhere").string()), doctest::Contains("no such file or folder"), Error);
}
