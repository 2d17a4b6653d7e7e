// distrvit calibrate's engine side: the budget bounds what the plan loses on the calibration images, the ranking
// is least sensitive first, a saved plan (JSON + low-rank projections) runs as the one calibrated, and
// plan:calibrated finds a plan next to the checkpoint, else the one calibrate left in the cache.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "distrvit/attention_plan.h"
#include "distrvit/calibrate.h"
#include "distrvit/engine.h"
#include "distrvit/error.h"
#include "distrvit/model.h"
#include "distrvit/model_plans.h"
#include "test_util.h"

using namespace distrvit;

namespace {

// ViT-Ti layout (12 layers x 3 heads) at 64 px with random weights, and `count` smooth random images.
struct SmallSetup {
  std::shared_ptr<const VitModel> model =
      std::make_shared<const VitModel>(random_model("vit_tiny_patch16_224", 64, 9));
  Tensor images;
  std::vector<int> unknown_labels;

  explicit SmallSetup(int count) : images({count, 3, 64, 64}), unknown_labels(count, -1) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> phase(0.0f, 6.0f);
    for (int i = 0; i < count; ++i) {
      const float a = phase(rng), b = phase(rng);
      float* image = images.ptr() + int64_t(i) * 3 * 64 * 64;  // [3, 64, 64]
      for (int64_t j = 0; j < 3 * 64 * 64; ++j) image[j] = std::sin(a + 0.05f * b * float(j % 97));
    }
  }
};

int approximated_heads(const AttentionPlan& plan, int depth, int heads) {
  int count = 0;
  for (int layer = 0; layer < depth; ++layer)
    for (int head = 0; head < heads; ++head) count += plan.at(layer, head).kind != AttentionKind::Exact;
  return count;
}

CalibrationReport run_calibration(const SmallSetup& setup, double budget) {
  auto engine = create_engine(setup.model, EngineOptions{});
  CalibrationOptions options;
  options.candidates = {"lowrank:r=8", "distr:l=8:G=2"};
  options.budget_points = budget;
  options.sensitivity_images = 6;
  options.batch = 6;
  return calibrate(*engine, setup.images, setup.unknown_labels, options, [](const std::string&) {});
}

float max_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape == b.shape);
  float worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.data[i] - b.data[i]));
  return worst;
}

// Points DISTRVIT_CACHE at a fresh folder for as long as it lives.
class ScopedCache {
 public:
  ScopedCache() : old_(std::getenv("DISTRVIT_CACHE") ? std::getenv("DISTRVIT_CACHE") : "") {
    setenv("DISTRVIT_CACHE", dir_.path().c_str(), 1);
  }
  ~ScopedCache() {
    if (old_.empty()) unsetenv("DISTRVIT_CACHE");
    else setenv("DISTRVIT_CACHE", old_.c_str(), 1);
  }
  const std::filesystem::path& path() const { return dir_.path(); }

 private:
  test::TempDir dir_;
  std::string old_;
};

// A folder named like the real checkpoint, its files linked to ../shared's.
std::filesystem::path linked_checkpoint(const test::TempDir& dir) {
  const std::filesystem::path checkpoint = dir / "vit_tiny_patch16_224.augreg_in21k_ft_in1k";
  std::filesystem::create_directory(checkpoint);
  for (const char* file : {"model.safetensors", "config.json"})
    std::filesystem::create_symlink(std::filesystem::absolute(test::real_model_dir() / file), checkpoint / file);
  return checkpoint;
}


}  // namespace

TEST_CASE("calibrate: a zero budget keeps every calibration prediction, an unlimited one approximates every head") {
  const SmallSetup setup(12);
  const CalibrationReport strict = run_calibration(setup, 0.0);
  CHECK(strict.total == 36);
  CHECK(strict.plan_agreement == 100.0);
  CHECK(approximated_heads(strict.plan, 12, 3) == strict.approximated);
  REQUIRE(strict.ranking.size() == 36);
  for (size_t i = 1; i < strict.ranking.size(); ++i) CHECK(strict.ranking[i - 1].mean_kl <= strict.ranking[i].mean_kl);

  const CalibrationReport loose = run_calibration(setup, 100.0);
  CHECK(loose.approximated == 36);
  CHECK(approximated_heads(loose.plan, 12, 3) == 36);
  CHECK(loose.approximated >= strict.approximated);
}

TEST_CASE("calibrate: a saved plan and its low-rank projections run exactly as the calibrated plan") {
  const SmallSetup setup(6);
  const CalibrationReport report = run_calibration(setup, 100.0);
  REQUIRE(report.plan.lowrank != nullptr);  // r=8 wins some heads of a random model: KL is far below distr's
  test::TempDir dir;
  const std::string path = (dir / "plan.json").string();
  save_calibrated_plan(path, report, setup.model->config);

  const AttentionPlan loaded = resolve_attention("plan:" + path, *setup.model);
  REQUIRE(loaded.lowrank != nullptr);
  CHECK(loaded.lowrank->u == report.plan.lowrank->u);
  auto engine = create_engine(setup.model, EngineOptions{});
  engine->set_attention(report.plan);
  const Tensor calibrated = engine->forward(setup.images);
  engine->set_attention(loaded);
  CHECK(max_difference(engine->forward(setup.images), calibrated) == 0.0f);

  CHECK_THROWS_WITH_AS(resolve_attention("lowrank:r=8", *setup.model),
                       "--attention lowrank:r=8: low-rank attention needs calibrated projections; use a plan from "
                       "distrvit calibrate",
                       Error);
  CHECK_THROWS_WITH_AS(resolve_attention(kCalibratedPlanSpec, *setup.model),
                       "plan:calibrated: no calibrated plan for a model with random weights", Error);
}

TEST_CASE("model plans: model names from checkpoint folders, hub cache folders and files") {
  CHECK(model_name("../shared/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k") ==
        "vit_tiny_patch16_224.augreg_in21k_ft_in1k");
  CHECK(model_name("/cache/timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k/") ==
        "vit_tiny_patch16_224.augreg_in21k_ft_in1k");
  CHECK(model_name("/x/deit_small_patch16_224.fb_in1k/model.safetensors") == "deit_small_patch16_224.fb_in1k");
  CHECK(model_name("random:vit_base_patch16_224").empty());
  CHECK(model_name("").empty());
}

TEST_CASE("model plans: plan:calibrated looks next to the checkpoint, then in the cache, and says where it looked") {
  if (!std::filesystem::exists(test::real_model_dir() / "model.safetensors")) {
    MESSAGE("SKIPPED: the real ViT-Ti/16 is not in ../shared");
    return;
  }
  const ScopedCache cache;
  test::TempDir dir;
  const std::filesystem::path checkpoint = linked_checkpoint(dir);
  const VitModel model = load_model(checkpoint.string());
  const std::string cached = cached_plan_path(model);
  CHECK(cached == (cache.path() / "plans" / "vit_tiny_patch16_224.augreg_in21k_ft_in1k" / "plan.json").string());
  const std::string expected = "no calibrated plan for model 'vit_tiny_patch16_224.augreg_in21k_ft_in1k' (looked for " +
                               (checkpoint / "plan.json").string() + ", " + cached;
  CHECK_THROWS_WITH_AS(resolve_attention(kCalibratedPlanSpec, model), doctest::Contains(expected.c_str()), Error);

  std::filesystem::create_directories(std::filesystem::path(cached).parent_path());
  save_plan(cached, parse_attention("distr:l=16:G=2:layers=3", 12, 3), 12, 3, model.config.architecture);
  CHECK(calibrated_plan_path(model) == cached);
  CHECK(approximated_heads(resolve_attention(kCalibratedPlanSpec, model), 12, 3) == 3);

  const std::string beside = (checkpoint / "plan.json").string();
  save_plan(beside, parse_attention("distr:l=16:G=2:layers=0:heads=1", 12, 3), 12, 3, model.config.architecture);
  CHECK(calibrated_plan_path(model) == beside);
  const AttentionPlan plan = resolve_attention(kCalibratedPlanSpec, model);
  CHECK(plan.name == kCalibratedPlanSpec);
  CHECK(approximated_heads(plan, 12, 3) == 1);
  CHECK(plan.at(0, 1).kind == AttentionKind::Distr);
}
