// What the pipeline publishes for each frame it classified.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "distrvit/image.h"
#include "distrvit/tensor.h"

namespace distrvit::media {

struct RankedClass {
  int index = -1;
  std::string synset;  // "n01440764" (empty when the class list has none)
  std::string label;   // "tench"
  float probability = 0;
};

struct FrameTiming {
  double preprocess_ms = 0;  // resize, crop, normalize
  double forward_ms = 0;     // the engine's whole forward pass (configured attention)
  double attention_ms = 0;   // of which attention
  double exact_forward_ms = 0;  // the exact-attention comparison pass (0 when not comparing)
  double end_to_end_ms = 0;  // frame captured -> result published, queueing included
};

struct FrameResult {
  int64_t sequence = 0;     // 1, 2, ... in publishing order
  int64_t frame_index = 0;  // position of the frame in its source
  std::string frame_name;   // image file name, for image sources
  bool reprocessed = false; // an earlier frame classified again after a configuration change
  uint64_t config_version = 0;  // Pipeline::configure() call whose configuration produced this

  ImageU8 input;  // what the model saw: the resized and cropped frame, [input_height, input_width]
  std::vector<RankedClass> top5;
  std::vector<RankedClass> exact_top5;  // when comparing with exact attention

  // Class-token attention probabilities of `attention_layer`: [heads, tokens] (empty when not captured).
  Tensor cls_attention;
  Tensor exact_cls_attention;
  int attention_layer = -1;
  int grid_h = 0, grid_w = 0, prefix_tokens = 1;  // how tokens map onto the input image

  FrameTiming timing;
  double fps = 0;  // frames classified per second, over the last seconds
  std::string attention;  // the plan that ran, as named by the engine
  std::string device;
  std::string precision;
};

}  // namespace distrvit::media
