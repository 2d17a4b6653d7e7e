// Resolving a --model argument: a file, a folder, or a Hugging Face hub id fetched into a cache.
#pragma once
#include <functional>
#include <string>

namespace distrvit {

struct HubOptions {
  std::string cache_dir;  // empty: $DISTRVIT_CACHE, else $XDG_CACHE_HOME/distrvit, else ~/.cache/distrvit
  std::string endpoint;   // empty: $HF_ENDPOINT, else https://huggingface.co
  bool offline = false;   // never download ($DISTRVIT_OFFLINE=1 also)
  std::function<void(const std::string& file, size_t done, size_t total)> progress;  // total 0 when unknown
};

std::string default_cache_dir();
bool looks_like_hub_id(const std::string& spec);  // "org/name" that is not an existing path

// Returns a local folder holding config.json + model.safetensors for `spec`.
// Files and folders are returned as they are; hub ids ("timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k")
// are looked up in <cache>/<org>--<name>/ and downloaded (HTTPS, libcurl) when missing: each file is
// written to a temp name, checked (size, sha256 where the server gives one, safetensors header), then renamed.
std::string resolve_model(const std::string& spec, const HubOptions& options = {});

// The model used when --model is not given: ../shared/models/<default> when present, else the hub id.
std::string default_model_spec();
constexpr const char* kDefaultHubId = "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k";

}  // namespace distrvit
