// Reading a checkpoint's configuration: timm's config.json (architecture + pretrained_cfg) or
// Hugging Face's ViTForImageClassification config.json + preprocessor_config.json.
#include "model_config.h"

#include <cmath>
#include <fstream>
#include <regex>

#include "distrvit/error.h"

namespace distrvit {
namespace {

using nlohmann::json;

template <typename T>
T get_or(const json& object, const char* key, T fallback) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  return it->get<T>();
}

std::array<float, 3> triple(const json& value, const std::string& file, const char* key) {
  if (!value.is_array() || value.size() != 3) fail(file, "'{}' must be a list of 3 numbers", key);
  return {value[0].get<float>(), value[1].get<float>(), value[2].get<float>()};
}

// Head count from a timm architecture name ("vit_small_patch16_224" -> 6).
int heads_from_architecture(const std::string& architecture) {
  static const std::pair<const char*, int> kSizes[] = {
      {"_tiny", 3},  {"_small", 6}, {"_medium", 8}, {"_base", 12}, {"_large", 16}, {"_huge", 16}, {"_giant", 16},
      {"_wee", 4},   {"_pwee", 4},  {"_little", 5}, {"_betwixt", 10}};
  for (const auto& [tag, heads] : kSizes) {
    if (architecture.find(tag) != std::string::npos) return heads;
  }
  return 0;
}

// {"0": name, "1": name, ...} in index order; every index from 0 once. `what` names the field in errors.
std::vector<std::string> names_by_index(const json& object, const std::string& file, const char* what) {
  std::vector<std::string> names(object.size());
  std::vector<bool> seen(object.size(), false);
  for (const auto& [key, value] : object.items()) {
    size_t used = 0;
    int index = -1;
    try {
      index = std::stoi(key, &used);
    } catch (const std::exception&) {
    }
    if (used != key.size() || index < 0 || size_t(index) >= names.size() || seen[index]) {
      fail(file, "{}: '{}' is not one of the class indices 0..{}", what, key, names.size() - 1);
    }
    if (!value.is_string()) fail(file, "{}: the name of class {} is not a string", what, key);
    names[index] = value.get<std::string>();
    seen[index] = true;
  }
  return names;
}

// timm's label_names (a list, or a map from class index), at the top or in pretrained_cfg (`cfg`), and the
// label_descriptions of those names.
void read_timm_labels(const json& config, const json& cfg, const std::string& file, CheckpointConfig& out) {
  const json& holder = config.contains("label_names") || !cfg.is_object() ? config : cfg;
  if (!holder.contains("label_names") || holder["label_names"].is_null()) return;
  const json& names = holder["label_names"];
  if (names.is_object()) {
    out.class_names = names_by_index(names, file, "label_names");
  } else if (names.is_array()) {
    for (const json& name : names) {
      if (!name.is_string()) fail(file, "'label_names' must list the classes' names");
      out.class_names.push_back(name.get<std::string>());
    }
  } else {
    fail(file, "'label_names' must be a list of names or a map from class index to name");
  }
  const json& descriptions = holder.contains("label_descriptions") ? holder["label_descriptions"] : json();
  if (!descriptions.is_null() && !descriptions.is_object()) {
    fail(file, "'label_descriptions' must map label names to descriptions");
  }
  for (const std::string& name : out.class_names) {
    const auto it = descriptions.is_object() ? descriptions.find(name) : descriptions.end();
    out.class_descriptions.push_back(it != descriptions.end() && it->is_string() ? it->get<std::string>() : "");
  }
}

void read_timm_config(const json& config, const std::string& file, CheckpointConfig& out) {
  out.architecture = config.at("architecture").get<std::string>();
  const std::string& arch = out.architecture;
  if (arch.rfind("vit_", 0) != 0 && arch.rfind("deit_", 0) != 0 && arch.rfind("deit3_", 0) != 0) {
    fail(file, "unknown architecture '{}' (supported: timm vit_*, deit_* and deit3_*)", arch);
  }
  // timm builds its "quickgelu" ViTs with an activation this engine does not have.
  if (arch.find("quickgelu") != std::string::npos) {
    fail(file, "architecture '{}' uses quick GELU, which is not supported (only exact GELU)", arch);
  }
  out.ln_eps = timm_layer_norm_eps(arch);
  std::smatch match;
  if (std::regex_search(arch, match, std::regex("patch(\\d+)"))) out.patch_size = std::stoi(match[1]);
  out.distilled = arch.find("distilled") != std::string::npos;
  out.num_heads = heads_from_architecture(arch);
  std::string pool = "token";
  if (config.contains("model_args")) {
    const json& args = config["model_args"];
    out.num_heads = get_or(args, "num_heads", out.num_heads);
    out.patch_size = get_or(args, "patch_size", out.patch_size);
    pool = get_or(args, "global_pool", pool);
    const json act = args.contains("act_layer") ? args["act_layer"] : json();
    if (!act.is_null() && !(act.is_string() && act.get<std::string>() == "gelu")) {
      fail(file, "model_args act_layer {} is not supported (only exact GELU)", act.dump());
    }
  }
  out.num_heads = get_or(config, "num_heads", out.num_heads);
  out.num_classes = get_or(config, "num_classes", 0);
  pool = get_or(config, "global_pool", pool);
  if (pool != "token" && pool != "avg") fail(file, "global_pool '{}' is not supported (only 'token' and 'avg')", pool);
  out.patch_mean = pool == "avg";

  const json& cfg = config.contains("pretrained_cfg") ? config["pretrained_cfg"] : config;
  read_timm_labels(config, cfg, file, out);
  PreprocessConfig& pp = out.preprocess;
  if (cfg.contains("input_size")) {
    const json& size = cfg["input_size"];
    if (!size.is_array() || size.size() != 3) fail(file, "'input_size' must be [channels, height, width]");
    pp.input_height = size[1].get<int>();
    pp.input_width = size[2].get<int>();
    out.image_size_known = true;
  }
  pp.interpolation = parse_interpolation(get_or<std::string>(cfg, "interpolation", "bicubic"));
  pp.crop_pct = get_or(cfg, "crop_pct", 0.875f);
  pp.crop_mode = get_or<std::string>(cfg, "crop_mode", "center");
  if (cfg.contains("mean")) pp.mean = triple(cfg["mean"], file, "mean");
  if (cfg.contains("std")) pp.std = triple(cfg["std"], file, "std");
  if (out.num_classes == 0) out.num_classes = get_or(cfg, "num_classes", 0);
}

void read_hf_config(const json& config, const std::string& file, CheckpointConfig& out) {
  const auto architectures = get_or<std::vector<std::string>>(config, "architectures", {});
  const std::string model_type = get_or<std::string>(config, "model_type", "");
  if (model_type != "vit" && model_type != "deit") {
    fail(file, "unknown Hugging Face model_type '{}' (supported: vit, deit)", model_type);
  }
  out.architecture = architectures.empty() ? model_type : architectures.front();
  out.distilled = out.architecture.find("WithTeacher") != std::string::npos;
  out.num_heads = get_or(config, "num_attention_heads", 0);
  out.patch_size = get_or(config, "patch_size", 16);
  out.ln_eps = get_or(config, "layer_norm_eps", 1e-12f);
  if (config.contains("id2label")) {
    if (!config["id2label"].is_object()) fail(file, "'id2label' must map class indices to names");
    out.class_names = names_by_index(config["id2label"], file, "id2label");
    out.class_descriptions.assign(out.class_names.size(), "");
    out.num_classes = static_cast<int>(out.class_names.size());
  }
  const int image_size = get_or(config, "image_size", 224);
  out.preprocess.input_height = out.preprocess.input_width = image_size;
  out.image_size_known = true;
  out.hugging_face = true;
  if (get_or(config, "hidden_act", std::string("gelu")) != "gelu") {
    fail(file, "hidden_act '{}' is not supported (only exact gelu)", config["hidden_act"].get<std::string>());
  }
}

int pil_resample_code(int code, const std::string& file) {
  switch (code) {
    case 0: return static_cast<int>(Interpolation::Nearest);
    case 2: return static_cast<int>(Interpolation::Bilinear);
    case 3: return static_cast<int>(Interpolation::Bicubic);
    default: fail(file, "unsupported resample code {} (0 nearest, 2 bilinear, 3 bicubic)", code);
  }
}

// ViTImageProcessor: resize to size (no crop). DeiTImageProcessor: resize shorter side then center crop.
void read_hf_preprocessor(const json& config, const std::string& file, PreprocessConfig& pp) {
  pp.interpolation = static_cast<Interpolation>(pil_resample_code(get_or(config, "resample", 2), file));
  if (config.contains("image_mean")) pp.mean = triple(config["image_mean"], file, "image_mean");
  if (config.contains("image_std")) pp.std = triple(config["image_std"], file, "image_std");
  if (!get_or(config, "do_normalize", true)) pp.mean = {0, 0, 0}, pp.std = {1, 1, 1};
  const json size = get_or<json>(config, "size", json::object());
  const bool center_crop = get_or(config, "do_center_crop", false);
  if (center_crop) {
    const json crop = get_or<json>(config, "crop_size", json::object());
    pp.input_height = get_or(crop, "height", pp.input_height);
    pp.input_width = get_or(crop, "width", pp.input_width);
    if (size.is_object() && size.contains("height")) {
      pp.resize_height = get_or(size, "height", 0);
      pp.resize_width = get_or(size, "width", pp.resize_height);
    } else {
      pp.resize_shorter = size.is_number() ? size.get<int>() : get_or(size, "shortest_edge", 0);
    }
    pp.crop_mode = "center";
  } else {
    pp.resize_to_input = true;
    if (size.is_object()) {
      pp.input_height = get_or(size, "height", pp.input_height);
      pp.input_width = get_or(size, "width", pp.input_width);
    }
  }
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail(path, "invalid JSON: {}", e.what());
  }
}

}  // namespace

float timm_layer_norm_eps(const std::string& architecture) {
  return architecture.find("_clip_") != std::string::npos ? 1e-5f : 1e-6f;
}

CheckpointConfig read_checkpoint_config(const std::string& config_path, const std::string& preprocessor_path) {
  const json config = read_json_file(config_path);
  if (!config.is_object()) fail(config_path, "not a JSON object");
  CheckpointConfig out;
  try {
    if (config.contains("architecture")) {
      read_timm_config(config, config_path, out);
    } else if (config.contains("model_type")) {
      read_hf_config(config, config_path, out);
      if (!preprocessor_path.empty()) {
        const json preprocessor = read_json_file(preprocessor_path);
        read_hf_preprocessor(preprocessor, preprocessor_path, out.preprocess);
      } else {
        out.preprocess.resize_to_input = true;
        out.preprocess.interpolation = Interpolation::Bilinear;
        out.preprocess.mean = out.preprocess.std = {0.5f, 0.5f, 0.5f};
      }
    } else {
      fail(config_path, "neither a timm config ('architecture') nor a Hugging Face config ('model_type')");
    }
  } catch (const json::exception& e) {
    fail(config_path, "unexpected value: {}", e.what());
  }
  if (out.preprocess.crop_pct <= 0 || out.preprocess.crop_pct > 1.5f) {
    fail(config_path, "crop_pct {} out of range", out.preprocess.crop_pct);
  }
  return out;
}

}  // namespace distrvit
