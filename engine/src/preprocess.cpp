// timm's evaluation transform (transforms_imagenet_eval) on top of PIL-compatible resampling:
// sizes, rounding and crop offsets follow torchvision / timm's Python arithmetic exactly.
#include "distrvit/preprocess.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "distrvit/error.h"
#include "resize_crop_plan.h"

namespace distrvit {
namespace {

constexpr int kChannels = 3;

// The double Python would hold for a value that came from JSON as a float: its shortest decimal
// form parsed again (0.9f -> 0.9, not 0.89999997615814209), so floor() and round() agree with timm.
double python_value(float value) {
  const std::string shortest = fmt::format("{}", value);
  double parsed = value;
  std::from_chars(shortest.data(), shortest.data() + shortest.size(), parsed);  // locale-independent
  return parsed;
}

// Python 3's round(): halves go to the even neighbour.
double round_half_to_even(double x) {
  const double nearest = std::round(x);
  if (std::fabs(x - std::trunc(x)) == 0.5) return 2.0 * std::round(x / 2.0);
  return nearest;
}

struct Size {
  int height;
  int width;
};

using Fill = std::array<uint8_t, 3>;
constexpr Fill kBlack{0, 0, 0};

int checked_side(int64_t side, const ImageU8& image) {
  if (side <= 0 || side > kMaxImagePixels) {
    fail("preprocess", "a {}x{} image would be resized to a side of {} pixels", image.width, image.height, side);
  }
  return int(side);
}

// torchvision Resize(int): the shorter side becomes `shorter`, the longer int(shorter * long / short).
Size shorter_side_to(const ImageU8& image, int shorter) {
  const bool portrait = image.width <= image.height;
  const int short_side = portrait ? image.width : image.height;
  const int long_side = portrait ? image.height : image.width;
  const int new_short = checked_side(shorter, image);
  const int new_long = checked_side(int64_t(double(int64_t(new_short) * long_side) / short_side), image);
  return portrait ? Size{new_long, new_short} : Size{new_short, new_long};
}

// timm ResizeKeepRatio: longest = 0 fits the shorter side to the target, 1 the longer side.
Size keep_ratio_to(const ImageU8& image, Size target, double longest) {
  const double ratio_h = double(image.height) / target.height;
  const double ratio_w = double(image.width) / target.width;
  const double ratio = std::max(ratio_h, ratio_w) * longest + std::min(ratio_h, ratio_w) * (1.0 - longest);
  return {checked_side(int64_t(round_half_to_even(image.height / ratio)), image),
          checked_side(int64_t(round_half_to_even(image.width / ratio)), image)};
}

// Where a centered crop of `crop` pixels starts along an axis of `size` pixels, as torchvision's
// center_crop (and timm's center_crop_or_pad) places it: the image is padded evenly first when it
// is smaller (the odd pixel after it), then cut at round((padded - crop) / 2). Negative values
// fall in the padding.
int crop_origin(int size, int crop) {
  const int padding_before = crop > size ? (crop - size) / 2 : 0;
  return int(round_half_to_even((std::max(size, crop) - crop) / 2.0)) - padding_before;
}

// Resize to `resized`, then center crop (padding with `fill` where the image is smaller). Only the
// resized pixels that survive the crop are computed. torchvision leaves an image already of that size
// untouched: a nearest "resize" at scale 1 copies it.
ResizeCropPlan center_crop_plan(const ImageU8& image, Size resized, Interpolation interpolation, Size crop,
                                const Fill& fill) {
  const int origin_x = crop_origin(resized.width, crop.width);
  const int origin_y = crop_origin(resized.height, crop.height);
  ResizeCropPlan plan;
  plan.resized_width = resized.width;
  plan.resized_height = resized.height;
  const bool size_kept = resized.width == image.width && resized.height == image.height;
  plan.interpolation = size_kept ? Interpolation::Nearest : interpolation;
  plan.visible.left = std::max(origin_x, 0);
  plan.visible.top = std::max(origin_y, 0);
  plan.visible.width = std::min(resized.width, origin_x + crop.width) - plan.visible.left;
  plan.visible.height = std::min(resized.height, origin_y + crop.height) - plan.visible.top;
  plan.paste_left = plan.visible.left - origin_x;
  plan.paste_top = plan.visible.top - origin_y;
  plan.fill = fill;
  return plan;
}

ImageU8 filled_image(Size size, const Fill& fill) {
  ImageU8 image;
  image.width = size.width;
  image.height = size.height;
  image.rgb.resize(size_t(size.width) * size_t(size.height) * kChannels);
  for (size_t i = 0; i < image.rgb.size(); i += kChannels) std::copy(fill.begin(), fill.end(), &image.rgb[i]);
  return image;
}

// Copies `pixels` into `canvas` with its top-left corner at (left, top); it must fit.
void paste(const ImageU8& pixels, int left, int top, ImageU8& canvas) {
  const size_t row_bytes = size_t(pixels.width) * kChannels;
  for (int y = 0; y < pixels.height; ++y) {
    const uint8_t* source = &pixels.rgb[size_t(y) * row_bytes];
    std::copy(source, source + row_bytes,
              &canvas.rgb[(size_t(top + y) * size_t(canvas.width) + size_t(left)) * kChannels]);
  }
}

// math.floor(size / crop_pct) per side, as timm computes scale_size.
Size scale_size(const PreprocessConfig& config) {
  const double crop_pct = python_value(config.crop_pct);
  const double height = std::floor(config.input_height / crop_pct);
  const double width = std::floor(config.input_width / crop_pct);
  if (!(height >= 1 && width >= 1 && height * width <= double(kMaxImagePixels))) {
    fail("preprocess", "crop_pct {} resizes to {}x{} pixels", config.crop_pct, width, height);
  }
  return {int(height), int(width)};
}

Fill mean_as_fill(const PreprocessConfig& config) {
  Fill fill{};
  for (size_t c = 0; c < fill.size(); ++c) {
    fill[c] = uint8_t(std::clamp(round_half_to_even(255.0 * python_value(config.mean[c])), 0.0, 255.0));
  }
  return fill;
}

void check_config(const PreprocessConfig& config) {
  if (config.input_height <= 0 || config.input_width <= 0 ||
      int64_t(config.input_height) * config.input_width > kMaxImagePixels) {
    fail("preprocess", "invalid input size {}x{}", config.input_width, config.input_height);
  }
  if (!(config.crop_pct > 0.0f)) fail("preprocess", "invalid crop_pct {}", config.crop_pct);
}

void check_image(const ImageU8& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != size_t(image.width) * size_t(image.height) * kChannels) {
    fail("preprocess", "invalid image {}x{} with {} bytes", image.width, image.height, image.rgb.size());
  }
}

ResizeCropPlan center_mode(const ImageU8& image, const PreprocessConfig& config, Size input) {
  if (config.resize_shorter > 0) {
    return center_crop_plan(image, shorter_side_to(image, config.resize_shorter), config.interpolation, input, kBlack);
  }
  const Size scaled = scale_size(config);
  if (scaled.height == scaled.width) {
    return center_crop_plan(image, shorter_side_to(image, scaled.height), config.interpolation, input, kBlack);
  }
  // timm builds ResizeKeepRatio(scale_size) here without passing the interpolation: bilinear.
  return center_crop_plan(image, keep_ratio_to(image, scaled, 0.0), Interpolation::Bilinear, input, kBlack);
}

}  // namespace

Interpolation parse_interpolation(const std::string& name) {
  if (name == "bicubic") return Interpolation::Bicubic;
  if (name == "bilinear") return Interpolation::Bilinear;
  if (name == "nearest") return Interpolation::Nearest;
  fail("interpolation '" + name + "'", "unsupported (use bicubic, bilinear or nearest)");
}

ResizeCropPlan plan_resize_and_crop(const ImageU8& image, const PreprocessConfig& config) {
  check_config(config);
  check_image(image);
  const Size input{config.input_height, config.input_width};
  if (config.resize_to_input) return center_crop_plan(image, input, config.interpolation, input, kBlack);
  if (config.resize_height > 0 && config.resize_width > 0) {
    return center_crop_plan(image, Size{config.resize_height, config.resize_width}, config.interpolation, input,
                            kBlack);
  }
  if (config.crop_mode == "center") return center_mode(image, config, input);
  if (config.crop_mode == "squash") {
    return center_crop_plan(image, scale_size(config), config.interpolation, input, kBlack);
  }
  if (config.crop_mode == "border") {
    const Size fitted = keep_ratio_to(image, scale_size(config), 1.0);
    return center_crop_plan(image, fitted, config.interpolation, input, mean_as_fill(config));
  }
  fail("preprocess", "unknown crop_mode '{}' (center, squash or border)", config.crop_mode);
}

ImageU8 resize_and_crop(const ImageU8& image, const PreprocessConfig& config) {
  const ResizeCropPlan plan = plan_resize_and_crop(image, config);
  ImageU8 out = filled_image({config.input_height, config.input_width}, plan.fill);
  paste(resize_pil_window(image, plan.resized_width, plan.resized_height, plan.interpolation, plan.visible),
        plan.paste_left, plan.paste_top, out);
  return out;
}

void normalize_into(const ImageU8& cropped, const PreprocessConfig& config, float* out) {
  check_image(cropped);
  if (cropped.width != config.input_width || cropped.height != config.input_height) {
    fail("preprocess", "image is {}x{}, the model input {}x{}", cropped.width, cropped.height, config.input_width,
         config.input_height);
  }
  const size_t plane = size_t(cropped.width) * size_t(cropped.height);
  for (size_t c = 0; c < kChannels; ++c) {
    const float mean = config.mean[c];
    const float std = config.std[c];
    float* channel = out + c * plane;
    // Same float32 operations as ToTensor (x / 255) then Normalize ((x - mean) / std).
    for (size_t i = 0; i < plane; ++i) channel[i] = (float(cropped.rgb[i * kChannels + c]) / 255.0f - mean) / std;
  }
}

Tensor preprocess(const ImageU8& image, const PreprocessConfig& config) {
  const ImageU8 cropped = resize_and_crop(image, config);
  Tensor out({1, kChannels, config.input_height, config.input_width});
  normalize_into(cropped, config, out.ptr());
  return out;
}

}  // namespace distrvit
