// What the live pipeline runs: model, device, precision and attention, changeable while it runs.
#pragma once
#include <string>
#include <vector>

namespace distrvit::media {

struct PipelineConfig {
  std::string model;      // checkpoint folder or file, or a hub id; empty = default_model_spec()
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N", "auto"
  std::string precision;  // "fp32", "fp16", "bf16"; empty = the device's default
  int threads = 0;        // CPU threads; 0 = all cores
  int image_size = 0;     // run at this square input size (position embedding resampled); 0 = the checkpoint's
  std::string attention = "exact";  // as --attention takes it: "exact", "distr:l=64:G=2", "plan:FILE", ...
  // Per-layer switch over `attention`: empty = as the text says; otherwise layer i runs exact attention
  // when approximate_layers[i] is false.
  std::vector<bool> approximate_layers;
  bool compare_exact = false;      // also run exact attention on every frame (side by side, difference)
  bool capture_attention = false;  // capture the class token's attention of `attention_layer`
  int attention_layer = -1;        // -1 = the last layer
};

// Whether going from `a` to `b` needs new engines (not just a new attention plan).
inline bool needs_new_engines(const PipelineConfig& a, const PipelineConfig& b) {
  return a.model != b.model || a.image_size != b.image_size || a.device != b.device || a.precision != b.precision ||
         a.threads != b.threads;
}

enum class Pacing {
  Realtime,    // play videos and image lists at their frame rate; when inference lags, the newest frame wins
  EveryFrame,  // hand every frame to inference, as fast as it takes them (none dropped; live sources: as Realtime)
};

struct PlaybackOptions {
  Pacing pacing = Pacing::Realtime;
  bool loop = true;  // restart videos and image lists at their end
};

}  // namespace distrvit::media
