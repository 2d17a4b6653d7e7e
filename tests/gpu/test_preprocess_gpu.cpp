// GPU preprocessing (kernels/preprocess.cu through engine/src/cuda_preprocess.h) against the CPU path
// (preprocess_batch): fresh random images of odd sizes, up- and downscaled, every interpolation and crop mode, the
// output poisoned with NaN before each run; at most 1 level of 255 apart after undoing the normalization (the
// kernels apply the CPU's own fixed-point tables, so 0 is expected). Then forward_images on the CUDA engine against
// forward of the CPU-preprocessed input, on a random ViT-Ti.
#ifdef DISTRVIT_WITH_CUDA
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda_check.h"
#include "cuda_preprocess.h"
#include "distrvit/engine.h"
#include "distrvit/error.h"
#include "distrvit/image.h"
#include "distrvit/model.h"
#include "distrvit/preprocess.h"
#include "test_util.h"

namespace distrvit {
namespace {

#define SKIP_WITHOUT_CUDA()             \
  if (!cuda_available()) {              \
    MESSAGE("no CUDA device: skipped"); \
    return;                             \
  }

constexpr int kChannels = 3;

std::vector<const ImageU8*> pointers_to(const std::vector<ImageU8>& images) {
  std::vector<const ImageU8*> pointers;
  for (const ImageU8& image : images) pointers.push_back(&image);
  return pointers;
}

// A float32 device buffer, freed on scope exit.
class DeviceFloats {
 public:
  explicit DeviceFloats(size_t count) : count_(count) { CUDA_CHECK(cudaMalloc(&ptr_, count * sizeof(float))); }
  ~DeviceFloats() { cudaFree(ptr_); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  void poison() { CUDA_CHECK(cudaMemset(ptr_, 0xFF, count_ * sizeof(float))); }  // NaN
  std::vector<float> read() const {
    std::vector<float> host(count_);
    CUDA_CHECK(cudaMemcpy(host.data(), ptr_, count_ * sizeof(float), cudaMemcpyDeviceToHost));
    return host;
  }
  float* get() const { return ptr_; }

 private:
  float* ptr_ = nullptr;
  size_t count_;
};

struct LevelDiff {
  double max_levels = 0;   // max |gpu - cpu| * std * 255 over every value
  size_t different = 0;    // values not bit-identical
  size_t not_finite = 0;   // never written (still NaN) or broken
};

// gpu, cpu: [B, 3, H, W] normalized with config's std.
LevelDiff level_diff(const std::vector<float>& gpu, const Tensor& cpu, const PreprocessConfig& config) {
  REQUIRE(gpu.size() == cpu.data.size());
  const size_t plane = size_t(config.input_height) * size_t(config.input_width);
  LevelDiff d;
  for (size_t i = 0; i < gpu.size(); ++i) {
    if (!std::isfinite(gpu[i])) {
      ++d.not_finite;
      continue;
    }
    const double std = config.std[(i / plane) % kChannels];
    d.max_levels = std::max(d.max_levels, std::fabs(double(gpu[i]) - double(cpu.data[i])) * std * 255.0);
    d.different += gpu[i] != cpu.data[i];
  }
  return d;
}

struct ConfigCase {
  std::string name;
  PreprocessConfig config;
};

std::vector<ConfigCase> config_cases() {
  std::vector<ConfigCase> cases;
  const std::pair<Interpolation, const char*> interpolations[] = {
      {Interpolation::Bicubic, "bicubic"}, {Interpolation::Bilinear, "bilinear"}, {Interpolation::Nearest, "nearest"}};
  for (const auto& [interpolation, name] : interpolations) {
    for (const char* mode : {"center", "squash", "border"}) {
      PreprocessConfig config;
      config.interpolation = interpolation;
      config.crop_mode = mode;
      cases.push_back({std::string(mode) + " " + name, config});
    }
  }
  PreprocessConfig shorter;
  shorter.resize_shorter = 256;
  cases.push_back({"resize_shorter 256 (Hugging Face)", shorter});
  PreprocessConfig to_input;
  to_input.resize_to_input = true;
  to_input.interpolation = Interpolation::Bilinear;
  to_input.mean = {0.5f, 0.5f, 0.5f};
  to_input.std = {0.5f, 0.5f, 0.5f};
  cases.push_back({"resize_to_input (ViTImageProcessor)", to_input});
  PreprocessConfig height_width;
  height_width.resize_height = 250;
  height_width.resize_width = 240;
  cases.push_back({"resize 250x240 then crop (DeiTImageProcessor)", height_width});
  PreprocessConfig rectangular;
  rectangular.input_height = 160;
  rectangular.input_width = 96;
  cases.push_back({"center 96x160 (bilinear keep-ratio)", rectangular});
  PreprocessConfig padded;
  padded.resize_shorter = 200;
  cases.push_back({"resize_shorter 200 < input (black padding)", padded});
  return cases;
}

TEST_CASE("preprocess: GPU resize, crop and normalize match the CPU path within 1 level") {
  SKIP_WITHOUT_CUDA();
  std::mt19937 rng(2024);
  const std::pair<int, int> sizes[] = {{1, 1},     {17, 300}, {333, 250}, {640, 480}, {225, 224},
                                       {224, 224}, {2000, 9}, {100, 1},   {37, 1111}, {257, 256}};
  std::vector<ImageU8> images;
  for (const auto& [width, height] : sizes) images.push_back(test::random_image(rng, width, height));
  const std::vector<const ImageU8*> pointers = pointers_to(images);

  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CudaImagePreprocessor preprocessor(4);
  double worst_levels = 0;
  for (const ConfigCase& c : config_cases()) {
    CAPTURE(c.name);
    const Tensor expected = preprocess_batch(pointers, c.config, 4);  // [B, 3, H, W]
    DeviceFloats out(expected.data.size());
    for (int run = 0; run < 2; ++run) {  // the second run re-enqueues the staged batch
      CAPTURE(run);
      out.poison();
      if (run == 0) preprocessor.stage(pointers, c.config);
      preprocessor.enqueue(out.get(), stream);
      CUDA_CHECK(cudaStreamSynchronize(stream));
      const LevelDiff d = level_diff(out.read(), expected, c.config);
      worst_levels = std::max(worst_levels, d.max_levels);
      std::printf("  %-45s run %d: max %.3g levels, %zu of %zu values differ\n", c.name.c_str(), run, d.max_levels,
                  d.different, expected.data.size());
      CHECK(d.not_finite == 0);
      CHECK(d.max_levels <= 1.0 + 255e-6);  // |gpu - cpu| * std <= 1/255 + 1e-6
      if (d.max_levels > 0) {               // where the first differing image is, to debug
        const size_t per_image = expected.data.size() / images.size();
        const std::vector<float> gpu = out.read();
        for (size_t i = 0; i < gpu.size(); ++i)
          if (gpu[i] != expected.data[i]) {
            MESSAGE("first difference in image ", i / per_image, " (", images[i / per_image].width, "x",
                    images[i / per_image].height, ")");
            break;
          }
      }
    }
  }
  MESSAGE("GPU vs CPU preprocessing: max difference ", worst_levels, " levels of 255");
  std::printf("GPU vs CPU preprocessing: max difference %.3g levels of 255\n", worst_levels);
  CUDA_CHECK(cudaStreamDestroy(stream));
}

TEST_CASE("preprocess: GPU staging grows, shrinks and rejects bad images") {
  SKIP_WITHOUT_CUDA();
  std::mt19937 rng(7);
  PreprocessConfig config;
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CudaImagePreprocessor preprocessor(0);
  // A small batch, a larger one (the buffers grow), a small one again (they are reused).
  for (const int count : {1, 37, 3}) {
    CAPTURE(count);
    std::vector<ImageU8> images;
    std::uniform_int_distribution<int> side(1, 700);
    for (int i = 0; i < count; ++i) images.push_back(test::random_image(rng, side(rng), side(rng)));
    const std::vector<const ImageU8*> pointers = pointers_to(images);
    const Tensor expected = preprocess_batch(pointers, config, 4);
    DeviceFloats out(expected.data.size());
    out.poison();
    preprocessor.stage(pointers, config);
    CHECK(preprocessor.staged_batch() == count);
    preprocessor.enqueue(out.get(), stream);
    CUDA_CHECK(cudaStreamSynchronize(stream));
    const LevelDiff d = level_diff(out.read(), expected, config);
    CHECK(d.not_finite == 0);
    CHECK(d.max_levels <= 1.0 + 255e-6);
  }
  const ImageU8 good = test::random_image(rng, 5, 5);
  const ImageU8 broken{5, 5, {}};
  CHECK_THROWS_WITH_AS(preprocessor.stage({&good, &broken}, config), doctest::Contains("images[1]"), Error);
  CHECK_THROWS_WITH_AS(preprocessor.stage({}, config), doctest::Contains("no images"), Error);
  DeviceFloats out(3 * 224 * 224);
  CHECK_THROWS_WITH_AS(preprocessor.enqueue(out.get(), stream), doctest::Contains("nothing staged"), Error);
  PreprocessConfig unknown;
  unknown.crop_mode = "zoom";
  CHECK_THROWS_WITH_AS(preprocessor.stage({&good}, unknown), doctest::Contains("crop_mode"), Error);
  CUDA_CHECK(cudaStreamDestroy(stream));
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape == b.shape);
  double d = 0;
  for (size_t i = 0; i < a.data.size(); ++i) d = std::max(d, double(std::fabs(a.data[i] - b.data[i])));
  return d;
}

int top1_mismatches(const Tensor& a, const Tensor& b) {
  const int64_t classes = a.dim(1);
  int mismatches = 0;
  for (int64_t i = 0; i < a.dim(0); ++i) {
    const float* x = a.ptr() + i * classes;
    const float* y = b.ptr() + i * classes;
    mismatches += std::max_element(x, x + classes) - x != std::max_element(y, y + classes) - y;
  }
  return mismatches;
}

TEST_CASE("preprocess: forward_images on the CUDA engine equals forward of the CPU-preprocessed input") {
  SKIP_WITHOUT_CUDA();
  auto model = std::make_shared<const VitModel>(random_model("vit_tiny_patch16_224", 0, 3));
  std::mt19937 rng(99);
  std::vector<ImageU8> images;
  for (const auto& [width, height] : {std::pair{500, 375}, std::pair{1, 1}, std::pair{224, 224}, std::pair{81, 640},
                                      std::pair{1024, 768}})
    images.push_back(test::random_image(rng, width, height));
  const std::vector<const ImageU8*> pointers = pointers_to(images);
  const Tensor input = preprocess_batch(pointers, model->config.preprocess, 4);  // [5, 3, 224, 224]
  const Tensor reference = create_engine(model, EngineOptions{})->forward(input);

  for (Precision precision : {Precision::F32, Precision::F16}) {
    EngineOptions options;
    options.device = DeviceKind::Cuda;
    options.precision = precision;
    auto gpu = create_engine(model, options);
    const Tensor from_input = gpu->forward(input);
    for (int pass = 0; pass < 3; ++pass) {  // warm-up and capture, then graph replays
      CAPTURE(precision_name(precision));
      CAPTURE(pass);
      const Tensor from_images = gpu->forward_images(pointers);
      CHECK(gpu->last_timing().total_ms > 0);
      // Same input pixels, same engine: only a preprocessing difference could separate these.
      CHECK(max_abs_diff(from_images, from_input) <= (precision == Precision::F32 ? 1e-5 : 1e-3));
      CHECK(top1_mismatches(from_images, reference) == 0);
      CHECK(max_abs_diff(from_images, reference) <= (precision == Precision::F32 ? 1e-4 : 5e-3));
    }
    // Another batch size, then the float path again on the same graphs.
    const std::vector<const ImageU8*> two(pointers.begin(), pointers.begin() + 2);
    const Tensor first_two = gpu->forward_images(two);
    CHECK(first_two.shape == std::vector<int64_t>{2, model->config.num_classes});
    CHECK(max_abs_diff(gpu->forward(input), from_input) <= (precision == Precision::F32 ? 1e-5 : 1e-3));
  }
}

}  // namespace
}  // namespace distrvit
#endif  // DISTRVIT_WITH_CUDA
