#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "distrvit/error.h"
#include "distrvit/image.h"
#include "distrvit/preprocess.h"
#include "distrvit/safetensors.h"
#include "test_util.h"

using distrvit::Error;
using distrvit::ImageU8;
using distrvit::Interpolation;
using distrvit::PreprocessConfig;
using distrvit::resize_and_crop;
using distrvit::resize_pil;
using nlohmann::json;

namespace {

constexpr int kChannels = 3;

ImageU8 make_image(int width, int height, int (*value)(int x, int y, int c)) {
  ImageU8 image;
  image.width = width;
  image.height = height;
  image.rgb.resize(size_t(width) * size_t(height) * kChannels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < kChannels; ++c)
        image.rgb[(size_t(y) * size_t(width) + size_t(x)) * kChannels + size_t(c)] = uint8_t(value(x, y, c));
  return image;
}

uint8_t pixel(const ImageU8& image, int x, int y, int c) {
  return image.rgb[(size_t(y) * size_t(image.width) + size_t(x)) * kChannels + size_t(c)];
}

ImageU8 constant_image(int width, int height) {
  return make_image(width, height, [](int, int, int c) { return 40 + 70 * c; });
}

bool all_equal_to_constant(const ImageU8& image) {
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      for (int c = 0; c < kChannels; ++c)
        if (pixel(image, x, y, c) != 40 + 70 * c) return false;
  return true;
}

// A float reference of PIL's separable filter for one axis (no fixed point, no 8-bit rounding of
// the intermediate): results may differ from resize_pil by rounding only.
std::vector<double> reference_resample_1d(const std::vector<double>& in, int out_size, bool bicubic) {
  const double scale = double(in.size()) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = (bicubic ? 2.0 : 1.0) * filter_scale;
  auto weight = [bicubic](double x) {
    x = std::fabs(x);
    if (!bicubic) return x < 1 ? 1 - x : 0.0;
    if (x < 1) return 1.5 * x * x * x - 2.5 * x * x + 1;
    if (x < 2) return -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
    return 0.0;
  };
  std::vector<double> out(static_cast<size_t>(out_size));
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const int lo = std::max(0, int(center - support + 0.5));
    const int hi = std::min(int(in.size()), int(center + support + 0.5));
    double sum = 0, total = 0;
    for (int j = lo; j < hi; ++j) {
      const double w = weight((j + 0.5 - center) / filter_scale);
      sum += w * in[size_t(j)];
      total += w;
    }
    out[size_t(i)] = std::clamp(sum / total, 0.0, 255.0);
  }
  return out;
}

struct GoldenCase {
  std::string folder;
  PreprocessConfig config;
  std::vector<std::string> images;
};

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return json::parse(in);
}

// pretrained_cfg of a timm config.json, read independently of the model loader.
PreprocessConfig timm_preprocess_config(const json& cfg) {
  PreprocessConfig config;
  config.input_height = cfg["input_size"][1].get<int>();
  config.input_width = cfg["input_size"][2].get<int>();
  config.interpolation = distrvit::parse_interpolation(cfg["interpolation"].get<std::string>());
  config.crop_pct = cfg["crop_pct"].get<float>();
  config.crop_mode = cfg.value("crop_mode", std::string("center"));
  for (size_t c = 0; c < 3; ++c) {
    config.mean[c] = cfg["mean"][c].get<float>();
    config.std[c] = cfg["std"][c].get<float>();
  }
  return config;
}

GoldenCase load_golden_case(const std::string& folder) {
  const auto dir = distrvit::test::golden_dir(folder);
  GoldenCase golden{folder, timm_preprocess_config(read_json(dir / "config.json")["pretrained_cfg"]), {}};
  golden.images = read_json(dir / "golden.json")["images"].get<std::vector<std::string>>();
  return golden;
}

double mean_abs_difference(const uint8_t* a, const uint8_t* b, size_t count, int* max_difference) {
  double total = 0;
  for (size_t i = 0; i < count; ++i) {
    const int difference = std::abs(int(a[i]) - int(b[i]));
    total += difference;
    *max_difference = std::max(*max_difference, difference);
  }
  return total / double(count);
}

void check_against_golden(const std::string& folder) {
  const GoldenCase golden = load_golden_case(folder);
  const distrvit::SafetensorsFile tensors((distrvit::test::golden_dir(folder) / "golden.safetensors").string());
  const auto& pixels_info = tensors.info("pixels");
  REQUIRE(pixels_info.dtype == distrvit::DType::U8);
  REQUIRE(pixels_info.shape == std::vector<int64_t>{int64_t(golden.images.size()), 224, 224, 3});
  const uint8_t* golden_pixels = tensors.raw(pixels_info);
  const distrvit::Tensor golden_input = tensors.to_float("input");
  const size_t image_bytes = 224 * 224 * 3;
  const size_t image_floats = image_bytes;
  const auto samples = distrvit::test::shared_dir() / "data" / "imagenet" / "samples";

  double worst_mean = 0, total_mean = 0;
  int worst_pixel = 0;
  double worst_normalize_error = 0;
  for (size_t i = 0; i < golden.images.size(); ++i) {
    CAPTURE(golden.images[i]);
    const ImageU8 cropped =
        resize_and_crop(distrvit::decode_image_file((samples / golden.images[i]).string()), golden.config);
    REQUIRE(cropped.width == 224);
    REQUIRE(cropped.height == 224);
    int max_difference = 0;
    const double mean =
        mean_abs_difference(cropped.rgb.data(), golden_pixels + i * image_bytes, image_bytes, &max_difference);
    CHECK(mean <= 0.6);
    worst_mean = std::max(worst_mean, mean);
    total_mean += mean;
    worst_pixel = std::max(worst_pixel, max_difference);

    // Normalizing timm's own pixels must give timm's input up to float rounding.
    ImageU8 timm_pixels;
    timm_pixels.width = timm_pixels.height = 224;
    timm_pixels.rgb.assign(golden_pixels + i * image_bytes, golden_pixels + (i + 1) * image_bytes);
    std::vector<float> normalized(image_floats);
    distrvit::normalize_into(timm_pixels, golden.config, normalized.data());
    const float* expected = golden_input.ptr() + i * image_floats;
    for (size_t k = 0; k < image_floats; ++k) {
      worst_normalize_error = std::max(worst_normalize_error, double(std::fabs(normalized[k] - expected[k])));
    }
  }
  CHECK(worst_normalize_error <= 1e-6);
  MESSAGE(folder << ": pixel |ours - timm| mean " << total_mean / double(golden.images.size()) << " (worst image "
                 << worst_mean << "), max " << worst_pixel << " levels; normalize max error " << worst_normalize_error);
}

PreprocessConfig center_config(int size) {
  PreprocessConfig config;
  config.input_height = config.input_width = size;
  return config;
}

}  // namespace

TEST_CASE("preprocess: matches timm's pixels and input on golden vit_tiny_patch16_224") {
  check_against_golden("vit_tiny_patch16_224");
}

TEST_CASE("preprocess: matches timm's pixels and input on golden deit_small_patch16_224") {
  check_against_golden("deit_small_patch16_224");
}

TEST_CASE("preprocess: matches timm's input for the real model on val-1300 (227 px images, upscaled)") {
  const auto model_dir = distrvit::test::real_model_dir();
  const PreprocessConfig config = timm_preprocess_config(read_json(model_dir / "config.json")["pretrained_cfg"]);
  const auto golden = distrvit::test::golden_dir(model_dir.filename().string());
  const auto images = read_json(golden / "golden.json")["images"].get<std::vector<std::string>>();
  const distrvit::SafetensorsFile tensors((golden / "golden.safetensors").string());
  const distrvit::Tensor expected = tensors.to_float("input");
  REQUIRE(expected.numel() == int64_t(images.size()) * 3 * 224 * 224);
  double worst_mean = 0, worst = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    CAPTURE(images[i]);
    const auto path = distrvit::test::shared_dir() / "data" / "imagenet" / images[i];
    const distrvit::Tensor input = distrvit::preprocess(distrvit::decode_image_file(path.string()), config);
    double total = 0;
    for (int64_t k = 0; k < input.numel(); ++k) {
      const double difference =
          std::fabs(input.data[size_t(k)] - expected.data[size_t(i) * size_t(input.numel()) + size_t(k)]);
      total += difference;
      worst = std::max(worst, difference);
    }
    worst_mean = std::max(worst_mean, total / double(input.numel()));
  }
  CHECK(worst_mean <= 0.6 / 255 / 0.5);  // 0.6 pixel levels after (x / 255 - 0.5) / 0.5
  MESSAGE("real model input |ours - timm|: worst image mean " << worst_mean << ", max " << worst);
}

TEST_CASE("preprocess: resize to the same size is the identity") {
  const ImageU8 image = make_image(13, 7, [](int x, int y, int c) { return (x * 37 + y * 11 + c * 5) % 256; });
  for (Interpolation interpolation : {Interpolation::Bicubic, Interpolation::Bilinear, Interpolation::Nearest}) {
    CHECK(resize_pil(image, 13, 7, interpolation).rgb == image.rgb);
  }
}

TEST_CASE("preprocess: a constant image stays constant when scaled up or down") {
  const ImageU8 image = constant_image(31, 17);
  for (Interpolation interpolation : {Interpolation::Bicubic, Interpolation::Bilinear, Interpolation::Nearest}) {
    for (const auto& size :
         {std::pair{7, 3}, std::pair{64, 45}, std::pair{31, 50}, std::pair{5, 17}, std::pair{1, 1}}) {
      const int width = size.first, height = size.second;
      CAPTURE(width);
      CAPTURE(height);
      const ImageU8 out = resize_pil(image, width, height, interpolation);
      REQUIRE(out.width == width);
      REQUIRE(out.height == height);
      CHECK(all_equal_to_constant(out));
    }
  }
}

TEST_CASE("preprocess: odd sizes agree with a floating-point reference of the filter") {
  // One row varying along x: the vertical pass is skipped, so only fixed-point rounding differs.
  const int width = 23;
  const ImageU8 row = make_image(width, 1, [](int x, int, int c) { return (x * 53 + c * 17) % 256; });
  for (bool bicubic : {true, false}) {
    for (int out_width : {5, 9, 22, 24, 61}) {
      CAPTURE(bicubic);
      CAPTURE(out_width);
      const ImageU8 out = resize_pil(row, out_width, 1, bicubic ? Interpolation::Bicubic : Interpolation::Bilinear);
      for (int c = 0; c < kChannels; ++c) {
        std::vector<double> in(width);
        for (int x = 0; x < width; ++x) in[size_t(x)] = pixel(row, x, 0, c);
        const std::vector<double> expected = reference_resample_1d(in, out_width, bicubic);
        for (int x = 0; x < out_width; ++x) CHECK(std::fabs(pixel(out, x, 0, c) - expected[size_t(x)]) <= 0.51);
      }
    }
  }
}

TEST_CASE("preprocess: a resize window holds exactly the same pixels as the full resize") {
  const ImageU8 image = make_image(37, 23, [](int x, int y, int c) { return (x * x * 7 + y * 29 + c * 50) % 256; });
  for (Interpolation interpolation : {Interpolation::Bicubic, Interpolation::Bilinear, Interpolation::Nearest}) {
    for (const auto& size : {std::pair{16, 11}, std::pair{80, 23}, std::pair{37, 50}, std::pair{90, 61}}) {
      const int width = size.first, height = size.second;
      CAPTURE(width);
      CAPTURE(height);
      const ImageU8 full = resize_pil(image, width, height, interpolation);
      const distrvit::PixelWindow window{3, 2, width - 5, height - 4};
      const ImageU8 part = distrvit::resize_pil_window(image, width, height, interpolation, window);
      REQUIRE(part.width == window.width);
      REQUIRE(part.height == window.height);
      bool same = true;
      for (int y = 0; y < part.height; ++y)
        for (int x = 0; x < part.width; ++x)
          for (int c = 0; c < kChannels; ++c) same = same && pixel(part, x, y, c) == pixel(full, x + 3, y + 2, c);
      CHECK(same);
    }
  }
  CHECK_THROWS_AS(distrvit::resize_pil_window(image, 10, 10, Interpolation::Bicubic, {5, 0, 6, 10}), Error);
  CHECK_THROWS_AS(distrvit::resize_pil_window(image, 10, 10, Interpolation::Bicubic, {0, 0, 0, 10}), Error);
}

TEST_CASE("preprocess: extreme aspect ratios compute only the crop") {
  // 1 x 60000 pixels: the shorter side goes to 248, the longer to 14.9 million, of which the
  // crop keeps 224 rows; the full-size intermediate (11 GB) is never built.
  const ImageU8 needle = make_image(1, 60000, [](int, int y, int) { return y % 200; });
  PreprocessConfig config = center_config(224);
  config.crop_pct = 0.9f;
  const ImageU8 out = resize_and_crop(needle, config);
  CHECK(out.width == 224);
  CHECK(out.height == 224);
  // Far too long to resize at all: an error, not an allocation failure.
  const ImageU8 line = make_image(1, 100000000 / 64, [](int, int, int) { return 0; });
  CHECK_THROWS_WITH_AS(resize_and_crop(line, config), doctest::Contains("would be resized"), Error);
}

TEST_CASE("preprocess: bicubic overshoots a step where bilinear stays monotonic") {
  const ImageU8 step = make_image(8, 2, [](int x, int, int) { return x < 4 ? 50 : 200; });
  const ImageU8 bilinear = resize_pil(step, 32, 2, Interpolation::Bilinear);
  const ImageU8 bicubic = resize_pil(step, 32, 2, Interpolation::Bicubic);
  int bicubic_min = 255, bicubic_max = 0;
  for (int x = 0; x < 32; ++x) {
    if (x > 0) CHECK(pixel(bilinear, x, 0, 0) >= pixel(bilinear, x - 1, 0, 0));
    CHECK(pixel(bilinear, x, 0, 0) >= 50);
    CHECK(pixel(bilinear, x, 0, 0) <= 200);
    bicubic_min = std::min<int>(bicubic_min, pixel(bicubic, x, 0, 0));
    bicubic_max = std::max<int>(bicubic_max, pixel(bicubic, x, 0, 0));
  }
  CHECK(bicubic_min < 50);
  CHECK(bicubic_max > 200);
  CHECK(bilinear.rgb != bicubic.rgb);
}

TEST_CASE("preprocess: nearest picks floor((x + 0.5) * scale)") {
  const ImageU8 ramp = make_image(6, 3, [](int x, int y, int) { return 10 * x + 100 * y; });
  const ImageU8 half = resize_pil(ramp, 3, 3, Interpolation::Nearest);
  CHECK(pixel(half, 0, 0, 0) == 10);   // source x 1
  CHECK(pixel(half, 1, 0, 0) == 30);   // source x 3
  CHECK(pixel(half, 2, 2, 0) == 250);  // source x 5, y 2
  const ImageU8 doubled = resize_pil(ramp, 12, 3, Interpolation::Nearest);
  for (int x = 0; x < 12; ++x) CHECK(pixel(doubled, x, 1, 0) == 100 + 10 * (x / 2));
}

TEST_CASE("preprocess: center crop offsets round half to even, as Python's round") {
  const auto column_index = [](int x, int, int) { return x; };
  PreprocessConfig config = center_config(224);
  config.resize_shorter = 224;  // the shorter side is already 224: no resampling, crop only
  // (225 - 224) / 2 = 0.5 rounds to 0; (227 - 224) / 2 = 1.5 rounds to 2; (229 - 224) / 2 = 2.5 to 2.
  for (const auto& expected : {std::pair{225, 0}, std::pair{227, 2}, std::pair{229, 2}, std::pair{231, 4}}) {
    const int width = expected.first, left = expected.second;
    CAPTURE(width);
    const ImageU8 cropped = resize_and_crop(make_image(width, 224, column_index), config);
    REQUIRE(cropped.width == 224);
    CHECK(pixel(cropped, 0, 0, 0) == left);
    CHECK(pixel(cropped, 223, 100, 2) == left + 223);
  }
}

TEST_CASE("preprocess: the shorter side becomes floor(input / crop_pct) with the aspect ratio kept") {
  // 500x375 at crop_pct 0.875 -> 256 rows, int(256 * 500 / 375) = 341 columns; crop 224 at
  // left = round(117 / 2) = 58 (58.5 to even), top = 16.
  const auto column_index = [](int x, int, int) { return x % 256; };
  PreprocessConfig config = center_config(224);
  config.crop_pct = 0.875f;
  config.interpolation = Interpolation::Nearest;
  const ImageU8 cropped = resize_and_crop(make_image(500, 375, column_index), config);
  REQUIRE(cropped.width == 224);
  REQUIRE(cropped.height == 224);
  // Nearest from 500 to 341 columns: output column 58 reads int((58 + 0.5) * 500 / 341) = 85.
  CHECK(pixel(cropped, 0, 0, 0) == 85);
}

TEST_CASE("preprocess: squash, border and resize_to_input modes") {
  const ImageU8 wide = constant_image(300, 100);
  PreprocessConfig config = center_config(64);
  config.crop_pct = 1.0f;

  config.crop_mode = "squash";
  ImageU8 out = resize_and_crop(wide, config);
  CHECK(out.width == 64);
  CHECK(out.height == 64);
  CHECK(all_equal_to_constant(out));

  // Border: the longer side fits (64 x round(64 / 3) = 21), the rest is padded with round(255 * mean).
  config.crop_mode = "border";
  config.mean = {0.5f, 0.0f, 1.0f};
  out = resize_and_crop(wide, config);
  REQUIRE(out.width == 64);
  REQUIRE(out.height == 64);
  CHECK(pixel(out, 0, 0, 0) == 128);  // 127.5 rounds to even
  CHECK(pixel(out, 0, 0, 1) == 0);
  CHECK(pixel(out, 0, 0, 2) == 255);
  CHECK(pixel(out, 10, 20, 0) == 128);  // (64 - 21) // 2 = 21 padded rows on top, 22 below
  CHECK(pixel(out, 10, 21, 0) == 40);
  CHECK(pixel(out, 10, 41, 1) == 110);
  CHECK(pixel(out, 10, 42, 0) == 128);

  config.crop_mode = "diagonal";
  CHECK_THROWS_WITH_AS(resize_and_crop(wide, config), doctest::Contains("crop_mode 'diagonal'"), Error);

  config.resize_to_input = true;  // Hugging Face: straight to the input size, no crop
  config.input_width = 30;
  config.input_height = 20;
  out = resize_and_crop(make_image(300, 100, [](int x, int, int) { return x < 150 ? 0 : 255; }), config);
  REQUIRE(out.width == 30);
  REQUIRE(out.height == 20);
  CHECK(pixel(out, 0, 0, 0) == 0);
  CHECK(pixel(out, 29, 19, 0) == 255);
}

TEST_CASE("preprocess: an image smaller than the crop is padded with zeros around its center") {
  PreprocessConfig config = center_config(8);
  config.resize_shorter = 4;  // 4x4 stays 4x4, then the 8x8 crop pads 2 on each side
  const ImageU8 out = resize_and_crop(constant_image(4, 4), config);
  REQUIRE(out.width == 8);
  CHECK(pixel(out, 1, 1, 1) == 0);
  CHECK(pixel(out, 2, 2, 1) == 110);
  CHECK(pixel(out, 5, 5, 2) == 180);
  CHECK(pixel(out, 6, 6, 2) == 0);
}

TEST_CASE("preprocess: normalize gives (x / 255 - mean) / std in CHW order") {
  PreprocessConfig config = center_config(2);
  config.mean = {0.5f, 0.25f, 0.0f};
  config.std = {0.5f, 0.25f, 2.0f};
  const ImageU8 image = make_image(2, 2, [](int x, int y, int c) { return c == 0 ? 255 * x : c == 1 ? 0 : 51 * y; });
  const distrvit::Tensor tensor = distrvit::preprocess(image, config);
  REQUIRE(tensor.shape == std::vector<int64_t>{1, 3, 2, 2});
  CHECK(tensor.data[0] == doctest::Approx(-1.0f));  // red, x = 0
  CHECK(tensor.data[1] == doctest::Approx(1.0f));   // red, x = 1
  CHECK(tensor.data[4] == doctest::Approx(-1.0f));  // green is 0 everywhere
  CHECK(tensor.data[10] == doctest::Approx(0.1f));  // blue, y = 1: 0.2 / 2

  std::vector<float> out(12);
  CHECK_THROWS_WITH_AS(distrvit::normalize_into(constant_image(3, 2), config, out.data()), doctest::Contains("3x2"),
                       Error);
}

TEST_CASE("preprocess: interpolation names and invalid sizes") {
  CHECK(distrvit::parse_interpolation("bicubic") == Interpolation::Bicubic);
  CHECK(distrvit::parse_interpolation("bilinear") == Interpolation::Bilinear);
  CHECK(distrvit::parse_interpolation("nearest") == Interpolation::Nearest);
  CHECK_THROWS_WITH_AS(distrvit::parse_interpolation("lanczos"), doctest::Contains("lanczos"), Error);
  CHECK_THROWS_AS(resize_pil(constant_image(4, 4), 0, 3, Interpolation::Bicubic), Error);
  CHECK_THROWS_AS(resize_pil(ImageU8{}, 3, 3, Interpolation::Bicubic), Error);
}
