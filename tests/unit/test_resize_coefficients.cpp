// The resize plans and filter tables shared by the CPU resampler and the GPU preprocessing (engine/src
// resize_coefficients.h, resize_crop_plan.h): applied the way kernels/preprocess.cu applies them -- two 1-D
// fixed-point passes over the planned source pixels, then paste into the filled input -- they must give exactly
// resize_pil_window's and resize_and_crop's pixels; and forward_images on the CPU engine equals preprocess + forward.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "distrvit/engine.h"
#include "distrvit/error.h"
#include "distrvit/image.h"
#include "distrvit/model.h"
#include "distrvit/preprocess.h"
#include "resize_coefficients.h"
#include "resize_crop_plan.h"
#include "test_util.h"

namespace distrvit {
namespace {

constexpr int kChannels = 3;
const Interpolation kInterpolations[] = {Interpolation::Bicubic, Interpolation::Bilinear, Interpolation::Nearest};

const char* name_of(Interpolation interpolation) {
  return interpolation == Interpolation::Bicubic ? "bicubic" : interpolation == Interpolation::Bilinear ? "bilinear"
                                                                                                          : "nearest";
}

uint8_t apply_taps(const AxisKernel& kernel, int output, const uint8_t* first_input, size_t input_stride) {
  int32_t sum = int32_t(1) << (kResizePrecisionBits - 1);
  const size_t base = size_t(output) * size_t(kernel.taps);
  for (int k = 0; k < kernel.count[size_t(output)]; ++k) {
    sum += first_input[size_t(kernel.first[size_t(output)] + k) * input_stride] * kernel.weights[base + size_t(k)];
  }
  return uint8_t(std::clamp(sum >> kResizePrecisionBits, 0, 255));
}

// What kernels/preprocess.cu computes for the window, on the host: the source pixels, the horizontal pass into
// [source.height, window.width] 8-bit rows, the vertical pass into [window.height, window.width].
ImageU8 apply_separable(const ImageU8& image, const SeparableResize& plan) {
  const PixelWindow& s = plan.source;
  REQUIRE(s.left >= 0);
  REQUIRE(s.top >= 0);
  REQUIRE(s.left + s.width <= image.width);
  REQUIRE(s.top + s.height <= image.height);
  const int width = plan.window.width, height = plan.window.height;
  std::vector<uint8_t> rows(size_t(s.height) * size_t(width) * kChannels);
  for (int y = 0; y < s.height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < kChannels; ++c) {
        const uint8_t* row = &image.rgb[(size_t(s.top + y) * size_t(image.width) + size_t(s.left)) * kChannels + c];
        rows[(size_t(y) * size_t(width) + size_t(x)) * kChannels + size_t(c)] =
            apply_taps(plan.horizontal, x, row, kChannels);
      }
  ImageU8 out;
  out.width = width;
  out.height = height;
  out.rgb.resize(size_t(width) * size_t(height) * kChannels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < kChannels; ++c)
        out.rgb[(size_t(y) * size_t(width) + size_t(x)) * kChannels + size_t(c)] =
            apply_taps(plan.vertical, y, &rows[size_t(x) * kChannels + size_t(c)], size_t(width) * kChannels);
  return out;
}

// resize_and_crop through the plan, as the GPU does it.
ImageU8 resize_and_crop_by_plan(const ImageU8& image, const PreprocessConfig& config) {
  const ResizeCropPlan crop = plan_resize_and_crop(image, config);
  const SeparableResize resize = plan_separable_resize(image.width, image.height, crop.resized_width,
                                                       crop.resized_height, crop.interpolation, crop.visible);
  const ImageU8 visible = apply_separable(image, resize);
  ImageU8 out;
  out.width = config.input_width;
  out.height = config.input_height;
  out.rgb.resize(size_t(out.width) * size_t(out.height) * kChannels);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      const int vx = x - crop.paste_left, vy = y - crop.paste_top;
      const bool inside = vx >= 0 && vx < visible.width && vy >= 0 && vy < visible.height;
      for (int c = 0; c < kChannels; ++c) {
        out.rgb[(size_t(y) * size_t(out.width) + size_t(x)) * kChannels + size_t(c)] =
            inside ? visible.rgb[(size_t(vy) * size_t(visible.width) + size_t(vx)) * kChannels + size_t(c)]
                   : crop.fill[size_t(c)];
      }
    }
  return out;
}

TEST_CASE("resize coefficients: filter kernels are normalized fixed point inside the input") {
  for (Interpolation interpolation : {Interpolation::Bicubic, Interpolation::Bilinear}) {
    for (const auto& sizes : {std::pair{1, 224}, std::pair{17, 300}, std::pair{333, 250}, std::pair{640, 224},
                              std::pair{224, 224}, std::pair{5000, 7}}) {
      const int in = sizes.first, out = sizes.second;
      CAPTURE(name_of(interpolation));
      CAPTURE(in);
      CAPTURE(out);
      const AxisKernel kernel = filter_axis_kernel(in, out, 0, out, interpolation);
      REQUIRE(kernel.first.size() == size_t(out));
      REQUIRE(kernel.weights.size() == size_t(out) * size_t(kernel.taps));
      for (int i = 0; i < out; ++i) {
        const int count = kernel.count[size_t(i)];
        REQUIRE(count >= 1);
        REQUIRE(count <= kernel.taps);
        REQUIRE(kernel.first[size_t(i)] >= 0);
        REQUIRE(kernel.first[size_t(i)] + count <= in);
        int64_t sum = 0;
        for (int k = 0; k < kernel.taps; ++k) {
          const int32_t w = kernel.weights[size_t(i) * size_t(kernel.taps) + size_t(k)];
          if (k >= count) REQUIRE(w == 0);
          sum += w;
        }
        CHECK(std::llabs(sum - kResizeUnitWeight) <= count);  // each weight rounded once
      }
    }
  }
}

TEST_CASE("resize coefficients: kept sizes and nearest are 1-tap unit kernels") {
  const SeparableResize copy = plan_separable_resize(40, 30, 40, 60, Interpolation::Bicubic, {5, 7, 30, 20});
  CHECK(copy.horizontal_copies);
  CHECK_FALSE(copy.vertical_copies);
  CHECK(copy.horizontal.taps == 1);
  CHECK(copy.source.left == 5);
  CHECK(copy.source.width == 30);
  for (int i = 0; i < 30; ++i) {
    CHECK(copy.horizontal.first[size_t(i)] == i);
    CHECK(copy.horizontal.weights[size_t(i)] == kResizeUnitWeight);
  }
  const SeparableResize nearest = plan_separable_resize(10, 9, 25, 4, Interpolation::Nearest, {3, 1, 20, 3});
  const std::vector<int> columns = nearest_sources(10, 25, 3, 23);
  REQUIRE(nearest.horizontal.taps == 1);
  for (int i = 0; i < 20; ++i) CHECK(nearest.horizontal.first[size_t(i)] + nearest.source.left == columns[size_t(i)]);
  CHECK_THROWS_AS(plan_separable_resize(10, 10, 10, 10, Interpolation::Bicubic, {5, 0, 6, 10}), Error);
  CHECK_THROWS_AS(plan_separable_resize(0, 10, 10, 10, Interpolation::Bicubic, {0, 0, 10, 10}), Error);
}

TEST_CASE("resize coefficients: the two planned passes reproduce resize_pil_window exactly") {
  std::mt19937 rng(17);
  struct Case {
    int in_width, in_height, out_width, out_height;
  };
  const Case cases[] = {{1, 1, 7, 5},       {17, 300, 224, 224}, {333, 250, 64, 48}, {640, 480, 293, 220},
                        {225, 224, 224, 224}, {31, 17, 31, 40},   {40, 9, 13, 9},     {3, 500, 1, 2}};
  for (const Case& c : cases) {
    const ImageU8 image = test::random_image(rng, c.in_width, c.in_height);
    for (Interpolation interpolation : kInterpolations) {
      CAPTURE(name_of(interpolation));
      CAPTURE(c.in_width);
      CAPTURE(c.in_height);
      CAPTURE(c.out_width);
      CAPTURE(c.out_height);
      const PixelWindow full{0, 0, c.out_width, c.out_height};
      const PixelWindow inner{c.out_width / 3, c.out_height / 4, c.out_width - c.out_width / 3 - c.out_width / 5,
                              c.out_height - c.out_height / 4};
      for (const PixelWindow& window : {full, inner}) {
        if (window.width <= 0 || window.height <= 0) continue;
        const SeparableResize plan =
            plan_separable_resize(c.in_width, c.in_height, c.out_width, c.out_height, interpolation, window);
        CHECK(apply_separable(image, plan).rgb ==
              resize_pil_window(image, c.out_width, c.out_height, interpolation, window).rgb);
      }
    }
  }
}

TEST_CASE("resize coefficients: the crop plan reproduces resize_and_crop in every mode") {
  std::mt19937 rng(5);
  std::vector<std::pair<std::string, PreprocessConfig>> configs;
  for (Interpolation interpolation : kInterpolations) {
    PreprocessConfig center;
    center.interpolation = interpolation;
    configs.emplace_back(std::string("center ") + name_of(interpolation), center);
    PreprocessConfig squash = center;
    squash.crop_mode = "squash";
    configs.emplace_back(std::string("squash ") + name_of(interpolation), squash);
    PreprocessConfig border = center;
    border.crop_mode = "border";
    configs.emplace_back(std::string("border ") + name_of(interpolation), border);
  }
  PreprocessConfig shorter;
  shorter.resize_shorter = 256;
  configs.emplace_back("resize_shorter 256", shorter);
  PreprocessConfig to_input;
  to_input.resize_to_input = true;
  to_input.interpolation = Interpolation::Bilinear;
  configs.emplace_back("resize_to_input", to_input);
  PreprocessConfig height_width;
  height_width.resize_height = 250;
  height_width.resize_width = 240;
  configs.emplace_back("resize 250x240", height_width);
  PreprocessConfig rectangular;  // non-square scale size: timm's bilinear ResizeKeepRatio
  rectangular.input_height = 160;
  rectangular.input_width = 96;
  configs.emplace_back("center 96x160", rectangular);
  PreprocessConfig padded;  // resized smaller than the input: black padding
  padded.resize_shorter = 200;
  configs.emplace_back("resize_shorter 200", padded);

  const std::pair<int, int> sizes[] = {{1, 1}, {17, 300}, {333, 250}, {640, 480}, {225, 224}, {224, 224}, {31, 7}};
  for (const auto& size : sizes) {
    const ImageU8 image = test::random_image(rng, size.first, size.second);
    for (const auto& named : configs) {
      INFO(named.first, " ", image.width, "x", image.height);
      CHECK(resize_and_crop_by_plan(image, named.second).rgb == resize_and_crop(image, named.second).rgb);
    }
  }
  PreprocessConfig unknown;
  unknown.crop_mode = "zoom";
  CHECK_THROWS_WITH_AS(plan_resize_and_crop(test::random_image(rng, 8, 8), unknown), doctest::Contains("crop_mode"), Error);
}

TEST_CASE("forward_images on the CPU engine equals preprocessing then forward") {
  auto model = std::make_shared<const VitModel>(random_model("vit_tiny_patch16_224", 64, 3));
  EngineOptions options;
  options.threads = 2;
  auto engine = create_engine(model, options);
  std::mt19937 rng(11);
  const std::vector<ImageU8> images = {test::random_image(rng, 1, 1), test::random_image(rng, 97, 40), test::random_image(rng, 64, 64)};
  std::vector<const ImageU8*> pointers;
  for (const ImageU8& image : images) pointers.push_back(&image);

  const Tensor input = preprocess_batch(pointers, model->config.preprocess, 2);
  REQUIRE(input.shape == std::vector<int64_t>{3, 3, 64, 64});
  for (size_t i = 0; i < images.size(); ++i) {
    const Tensor one = preprocess(images[i], model->config.preprocess);
    CHECK(std::equal(one.data.begin(), one.data.end(), input.data.begin() + int64_t(i) * one.numel()));
  }
  const Tensor expected = engine->forward(input);
  const Tensor logits = engine->forward_images(pointers);
  REQUIRE(logits.shape == expected.shape);
  double max_diff = 0;
  for (int64_t i = 0; i < logits.numel(); ++i)
    max_diff = std::max(max_diff, double(std::fabs(logits.data[size_t(i)] - expected.data[size_t(i)])));
  CHECK(max_diff <= 1e-5);

  CHECK_THROWS_WITH_AS(engine->forward_images({}), doctest::Contains("no images"), Error);
  const ImageU8 broken{4, 4, {}};
  CHECK_THROWS_WITH_AS(engine->forward_images({pointers[0], &broken}), doctest::Contains("images[1]"), Error);
}

}  // namespace
}  // namespace distrvit
