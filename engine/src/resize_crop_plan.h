// Internal: where resize_and_crop (preprocess.cpp) takes each pixel of the model input from, shared by the CPU
// transform and the GPU preprocessing (cuda_preprocess.cpp), so both follow the same sizes, modes and offsets.
#pragma once
#include <array>
#include <cstdint>

#include "distrvit/image.h"
#include "distrvit/preprocess.h"

namespace distrvit {

// The input [input_height, input_width] is filled with `fill`, then the `visible` pixels of the image resized to
// resized_width x resized_height are pasted with their top-left corner at (paste_left, paste_top).
struct ResizeCropPlan {
  int resized_width = 0;
  int resized_height = 0;
  Interpolation interpolation = Interpolation::Bicubic;  // Nearest when the size is kept (a plain copy)
  PixelWindow visible;                                   // in the resized image
  int paste_left = 0;
  int paste_top = 0;
  std::array<uint8_t, 3> fill{};
};

// Throws Error for an invalid config or image, an unknown crop_mode, or a resize beyond kMaxImagePixels per side.
ResizeCropPlan plan_resize_and_crop(const ImageU8& image, const PreprocessConfig& config);

}  // namespace distrvit
