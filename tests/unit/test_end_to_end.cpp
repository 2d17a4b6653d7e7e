// JPEG file -> timm preprocessing -> CPU forward gives timm's top-1 on every golden image.
#include <doctest/doctest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "distrvit/batch_loader.h"
#include "distrvit/engine.h"
#include "distrvit/evaluation.h"
#include "distrvit/model.h"
#include "test_util.h"

using namespace distrvit;

namespace {

// golden.json's images are sample file names, or paths under data/imagenet (the real-model folder).
void check_golden_top1(const std::string& golden_name, const std::string& model_dir) {
  const auto golden = test::golden_dir(golden_name);
  nlohmann::json spec = nlohmann::json::parse(std::ifstream(golden / "golden.json"));
  const auto imagenet = test::shared_dir() / "data" / "imagenet";
  std::vector<std::string> paths;
  for (const auto& image : spec["images"]) {
    const std::string name = image.get<std::string>();
    paths.push_back((name.find('/') == std::string::npos ? imagenet / "samples" / name : imagenet / name).string());
  }
  auto model = std::make_shared<const VitModel>(load_model(model_dir));
  Tensor input;
  load_images_into(paths, model->config.preprocess, 2, input);
  const Tensor logits = create_engine(model, EngineOptions{})->forward(input);
  const int64_t classes = logits.dim(1);
  for (size_t i = 0; i < paths.size(); ++i) {
    CAPTURE(paths[i]);
    CHECK(top_k(logits.ptr() + i * classes, classes, 1)[0].index == spec["top1"][i].get<int>());
  }
}

}  // namespace

TEST_CASE("end to end: golden vit_tiny images give timm's top-1") {
  check_golden_top1("vit_tiny_patch16_224", test::golden_dir("vit_tiny_patch16_224").string());
}

TEST_CASE("end to end: golden deit_small images give timm's top-1") {
  check_golden_top1("deit_small_patch16_224", test::golden_dir("deit_small_patch16_224").string());
}

TEST_CASE("end to end: real ViT-Ti/16 on val-1300 images gives timm's top-1") {
  check_golden_top1("vit_tiny_patch16_224.augreg_in21k_ft_in1k", test::real_model_dir().string());
}
