// timm's evaluation transform: resize the shorter side, center crop, normalize.
#pragma once
#include <array>
#include <string>

#include "distrvit/image.h"
#include "distrvit/tensor.h"

namespace distrvit {

enum class Interpolation { Bilinear, Bicubic, Nearest };

Interpolation parse_interpolation(const std::string& name);  // "bicubic", "bilinear", "nearest"

struct PreprocessConfig {
  int input_height = 224;
  int input_width = 224;
  Interpolation interpolation = Interpolation::Bicubic;
  float crop_pct = 0.875f;
  std::string crop_mode = "center";  // "center" | "squash" | "border"
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  // When > 0, the shorter side is resized to exactly this (Hugging Face preprocessor configs);
  // otherwise to floor(input / crop_pct) as timm does.
  int resize_shorter = 0;
  // Hugging Face's ViTImageProcessor resizes straight to (height, width) with no crop.
  bool resize_to_input = false;
};

// PIL-compatible resampling of an RGB8 image (antialiased when downscaling, fixed-point like PIL).
ImageU8 resize_pil(const ImageU8& image, int out_width, int out_height, Interpolation interpolation);

// Resize + crop, still 8-bit: what timm's transform holds before ToTensor.
ImageU8 resize_and_crop(const ImageU8& image, const PreprocessConfig& config);

// Full transform into `out` (CHW float, [3, input_height, input_width]).
void normalize_into(const ImageU8& cropped, const PreprocessConfig& config, float* out);
Tensor preprocess(const ImageU8& image, const PreprocessConfig& config);  // [1,3,H,W]

}  // namespace distrvit
