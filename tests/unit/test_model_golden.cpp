// The CPU forward against timm's float64 logits, and checkpoint variants built from the golden weights.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "distrvit/engine.h"
#include "distrvit/error.h"
#include "distrvit/model.h"
#include "distrvit/safetensors.h"
#include "test_util.h"

using namespace distrvit;

namespace {

struct GoldenRun {
  double max_abs_error = 0;
  int top1_mismatches = 0;
};

int argmax_row(const float* row, int64_t n) { return int(std::max_element(row, row + n) - row); }

GoldenRun run_golden(const std::string& model_dir, const std::string& golden_dir) {
  const SafetensorsFile golden(golden_dir + "/golden.safetensors");
  const Tensor input = golden.to_float("input");
  const Tensor expected = golden.to_float("logits_f64");
  auto model = std::make_shared<const VitModel>(load_model(model_dir));
  auto engine = create_engine(model, EngineOptions{});
  const Tensor logits = engine->forward(input);
  REQUIRE(logits.shape == expected.shape);
  GoldenRun run;
  const int64_t classes = logits.dim(1);
  for (int64_t i = 0; i < logits.numel(); ++i) {
    run.max_abs_error = std::max(run.max_abs_error, double(std::fabs(logits.data[i] - expected.data[i])));
  }
  for (int64_t b = 0; b < logits.dim(0); ++b) {
    run.top1_mismatches += argmax_row(logits.ptr() + b * classes, classes) != argmax_row(expected.ptr() + b * classes, classes);
  }
  return run;
}

}  // namespace

TEST_CASE("model: golden vit_tiny (random weights, F32) matches timm float64 logits") {
  const auto dir = test::golden_dir("vit_tiny_patch16_224").string();
  const GoldenRun run = run_golden(dir, dir);
  MESSAGE("max |logit - logits_f64| = " << run.max_abs_error);
  CHECK(run.max_abs_error <= 2e-4);
  CHECK(run.top1_mismatches == 0);
}

TEST_CASE("model: golden deit_small (random weights, F16) matches timm float64 logits") {
  const auto dir = test::golden_dir("deit_small_patch16_224").string();
  const GoldenRun run = run_golden(dir, dir);
  MESSAGE("max |logit - logits_f64| = " << run.max_abs_error);
  CHECK(run.max_abs_error <= 2e-4);
  CHECK(run.top1_mismatches == 0);
}

TEST_CASE("model: real ViT-Ti/16 matches timm float64 logits") {
  const GoldenRun run = run_golden(test::real_model_dir().string(),
                                   test::golden_dir("vit_tiny_patch16_224.augreg_in21k_ft_in1k").string());
  MESSAGE("max |logit - logits_f64| = " << run.max_abs_error);
  CHECK(run.max_abs_error <= 2e-4);
  CHECK(run.top1_mismatches == 0);
}

TEST_CASE("model: configuration read from the real checkpoint") {
  const VitModel model = load_model(test::real_model_dir().string());
  const VitConfig& c = model.config;
  CHECK(c.embed_dim == 192);
  CHECK(c.depth == 12);
  CHECK(c.num_heads == 3);
  CHECK(c.mlp_hidden == 768);
  CHECK(c.num_classes == 1000);
  CHECK(c.patch_size == 16);
  CHECK(c.tokens() == 197);
  CHECK_FALSE(c.distilled);
  CHECK(c.preprocess.crop_pct == doctest::Approx(0.9));
  CHECK(c.preprocess.mean[0] == doctest::Approx(0.5));
  CHECK(c.preprocess.interpolation == Interpolation::Bicubic);
  CHECK(model.parameter_count() == 5717416);
}
