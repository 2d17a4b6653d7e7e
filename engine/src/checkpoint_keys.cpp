#include "checkpoint_keys.h"

#include <regex>

#include "distrvit/error.h"

namespace distrvit {
namespace {

// Hugging Face ViT/DeiT key (after the "vit."/"deit." prefix) -> timm key; "" = ignored.
std::string hf_to_timm(const std::string& key) {
  static const std::pair<std::regex, std::string> kRules[] = {
      {std::regex(R"(embeddings\.cls_token)"), "cls_token"},
      {std::regex(R"(embeddings\.distillation_token)"), "dist_token"},
      {std::regex(R"(embeddings\.position_embeddings)"), "pos_embed"},
      {std::regex(R"(embeddings\.patch_embeddings\.projection\.(weight|bias))"), "patch_embed.proj.$1"},
      {std::regex(R"(encoder\.layer\.(\d+)\.layernorm_before\.(weight|bias))"), "blocks.$1.norm1.$2"},
      {std::regex(R"(encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias))"),
       "blocks.$1.attn.$2.$3"},
      {std::regex(R"(encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias))"), "blocks.$1.attn.proj.$2"},
      {std::regex(R"(encoder\.layer\.(\d+)\.layernorm_after\.(weight|bias))"), "blocks.$1.norm2.$2"},
      {std::regex(R"(encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias))"), "blocks.$1.mlp.fc1.$2"},
      {std::regex(R"(encoder\.layer\.(\d+)\.output\.dense\.(weight|bias))"), "blocks.$1.mlp.fc2.$2"},
      {std::regex(R"(layernorm\.(weight|bias))"), "norm.$1"},
      {std::regex(R"(pooler\..*)"), ""},
  };
  for (const auto& [pattern, replacement] : kRules) {
    if (std::regex_match(key, pattern)) return std::regex_replace(key, pattern, replacement);
  }
  return "?";
}

std::string hf_head_to_timm(const std::string& key) {
  static const std::pair<std::regex, std::string> kRules[] = {
      {std::regex(R"((classifier|cls_classifier)\.(weight|bias))"), "head.$2"},
      {std::regex(R"(distillation_classifier\.(weight|bias))"), "head_dist.$1"},
  };
  for (const auto& [pattern, replacement] : kRules) {
    if (std::regex_match(key, pattern)) return std::regex_replace(key, pattern, replacement);
  }
  return "?";
}

bool is_hugging_face_layout(const SafetensorsFile& file) {
  for (const TensorInfo& info : file.tensors()) {
    if (info.name.rfind("vit.", 0) == 0 || info.name.rfind("deit.", 0) == 0) return true;
  }
  return false;
}

// Concatenates q, k, v ([E, E] weights or [E] biases) along rows into [3E, ...].
Tensor fuse_qkv(const Tensor& q, const Tensor& k, const Tensor& v, const std::string& file, const std::string& what) {
  if (q.shape != k.shape || q.shape != v.shape) {
    fail(file, "{}: query/key/value shapes differ ({} {} {})", what, shape_string(q.shape), shape_string(k.shape),
         shape_string(v.shape));
  }
  std::vector<int64_t> shape = q.shape;
  shape[0] *= 3;
  Tensor fused(shape);
  float* out = fused.ptr();
  for (const Tensor* part : {&q, &k, &v}) out = std::copy(part->data.begin(), part->data.end(), out);
  return fused;
}

std::map<std::string, Tensor> read_hugging_face(const SafetensorsFile& file) {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, Tensor> qkv_parts;  // "blocks.N.attn.{query,key,value}.{weight,bias}"
  for (const TensorInfo& info : file.tensors()) {
    const std::string& key = info.name;
    std::string name;
    if (key.rfind("vit.", 0) == 0) name = hf_to_timm(key.substr(4));
    else if (key.rfind("deit.", 0) == 0) name = hf_to_timm(key.substr(5));
    else name = hf_head_to_timm(key);
    if (name == "?") fail(file.path(), "unexpected tensor '{}' for a Hugging Face ViT/DeiT checkpoint", key);
    if (name.empty()) continue;
    Tensor tensor = file.to_float(key);
    if (name.find(".attn.query.") != std::string::npos || name.find(".attn.key.") != std::string::npos ||
        name.find(".attn.value.") != std::string::npos) {
      qkv_parts.emplace(name, std::move(tensor));
    } else {
      tensors.emplace(name, std::move(tensor));
    }
  }
  for (int layer = 0;; ++layer) {
    const std::string prefix = "blocks." + std::to_string(layer) + ".attn.";
    if (!qkv_parts.count(prefix + "query.weight")) break;
    for (const char* kind : {"weight", "bias"}) {
      auto part = [&](const char* which) -> const Tensor& {
        auto it = qkv_parts.find(prefix + which + "." + kind);
        if (it == qkv_parts.end()) fail(file.path(), "missing tensor for layer {} attention {}.{}", layer, which, kind);
        return it->second;
      };
      tensors[prefix + "qkv." + kind] =
          fuse_qkv(part("query"), part("key"), part("value"), file.path(), prefix + "qkv." + kind);
    }
  }
  return tensors;
}

}  // namespace

std::map<std::string, Tensor> read_timm_tensors(const SafetensorsFile& file) {
  if (is_hugging_face_layout(file)) return read_hugging_face(file);
  std::map<std::string, Tensor> tensors;
  for (const TensorInfo& info : file.tensors()) tensors.emplace(info.name, file.to_float(info.name));
  return tensors;
}

}  // namespace distrvit
