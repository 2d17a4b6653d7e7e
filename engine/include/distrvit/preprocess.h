// timm's evaluation transform: resize the shorter side, center crop, normalize.
#pragma once
#include <array>
#include <string>
#include <vector>

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
  // When > 0, resize to exactly resize_height x resize_width, then center crop (DeiTImageProcessor with
  // size {height, width} and crop_size).
  int resize_height = 0;
  int resize_width = 0;
};

// PIL-compatible resampling of an RGB8 image (antialiased when downscaling, fixed-point like PIL).
ImageU8 resize_pil(const ImageU8& image, int out_width, int out_height, Interpolation interpolation);

// A rectangle of pixels: columns [left, left + width), rows [top, top + height).
struct PixelWindow {
  int left = 0;
  int top = 0;
  int width = 0;
  int height = 0;
};

// Exactly the pixels of resize_pil(image, out_width, out_height, interpolation) inside `window`,
// computing only those (resize + crop without the full-size intermediate).
ImageU8 resize_pil_window(const ImageU8& image, int out_width, int out_height, Interpolation interpolation,
                          const PixelWindow& window);

// Resize + crop, still 8-bit: what timm's transform holds before ToTensor.
ImageU8 resize_and_crop(const ImageU8& image, const PreprocessConfig& config);

// Full transform into `out` (CHW float, [3, input_height, input_width]).
void normalize_into(const ImageU8& cropped, const PreprocessConfig& config, float* out);
Tensor preprocess(const ImageU8& image, const PreprocessConfig& config);  // [1,3,H,W]

// The full transform of every image into one input [images.size(), 3, H, W], on up to `threads` threads
// (0 = all cores). Throws the first Error, naming the image's index.
Tensor preprocess_batch(const std::vector<const ImageU8*>& images, const PreprocessConfig& config, int threads);

}  // namespace distrvit
