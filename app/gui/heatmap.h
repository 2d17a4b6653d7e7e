// Class-token attention drawn over the image the model saw: heat-maps and their difference.
#pragma once
#include <vector>

#include "distrvit/image.h"
#include "distrvit/tensor.h"

namespace distrvit::gui {

struct AttentionGrid {
  int rows = 0, cols = 0;
  std::vector<float> values;  // [rows * cols], the attention each patch receives
  bool empty() const { return values.empty(); }
  float max() const;
};

// From [heads, tokens] class-token attention: one head, or the mean over heads (head < 0),
// over the patch tokens only (the first `prefix_tokens` are class/distillation tokens).
AttentionGrid patch_attention(const Tensor& cls_attention, int head, int prefix_tokens, int rows, int cols);

// The image dimmed to gray under a heat-map of `grid` (0 -> dark, `scale` and above -> bright yellow).
ImageU8 heatmap_overlay(const ImageU8& image, const AttentionGrid& grid, float scale, float opacity);

// approximate - exact per patch: red where the approximation attends more, blue where less,
// full colour at +-`scale`.
ImageU8 difference_overlay(const ImageU8& image, const AttentionGrid& approximate, const AttentionGrid& exact,
                           float scale, float opacity);

// Total variation distance between the two patch distributions (0 = same, 1 = disjoint), renormalized.
float total_variation(const AttentionGrid& a, const AttentionGrid& b);

}  // namespace distrvit::gui
