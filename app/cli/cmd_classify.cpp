// distrvit classify IMAGE...: top-k labels and probabilities; http(s) URLs are fetched into the cache first.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "distrvit/calibrate.h"
#include "distrvit/batch_loader.h"
#include "distrvit/evaluation.h"
#include "distrvit/image_url.h"
#include "distrvit/labels.h"

namespace distrvit::cli {
namespace {

struct ClassifyOptions {
  ModelOptions model;
  std::vector<std::string> images;
  std::string attention = "exact";
  int topk = 5;
  bool json = false;
};

void run_classify(const ClassifyOptions& o) {
  const ClassList classes = default_class_list();
  const auto model = o.model.load();
  auto engine = create_engine(model, o.model.engine_options());
  engine->set_attention(resolve_attention(o.attention, *model));
  std::vector<std::string> files;
  for (const std::string& image : o.images) files.push_back(is_image_url(image) ? resolve_image_url(image) : image);
  Tensor input;
  load_images_into(files, model->config.preprocess, 4, input);  // all images decode before anything prints
  const Tensor logits = engine->forward(input);
  const int64_t num_classes = logits.dim(1);

  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < o.images.size(); ++i) {
    const auto top = top_k(logits.ptr() + i * num_classes, num_classes, o.topk);
    if (o.json) {
      nlohmann::json entries = nlohmann::json::array();
      for (const Prediction& p : top) entries.push_back({{"index", p.index}, {"label", classes.label(p.index)}, {"prob", p.prob}});
      results.push_back({{"image", o.images[i]}, {"top", entries}});
      continue;
    }
    std::printf("%s\n", o.images[i].c_str());
    for (const Prediction& p : top) std::printf("  %6.2f%%  %4d  %s\n", 100.0 * p.prob, p.index, classes.label(p.index).c_str());
  }
  if (o.json) std::printf("%s\n", results.dump(2).c_str());
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto options = std::make_shared<ClassifyOptions>();
  CLI::App* command = app.add_subcommand("classify", "print the top-k classes of images");
  options->model.add_to(*command);
  command->add_option("--attention", options->attention, "attention configuration (exact, cudnn, distr:l=64:G=2, plan:FILE, plan:calibrated, ...)")
      ->capture_default_str();
  command->add_option("--topk,-k", options->topk, "how many classes to print")->capture_default_str()->check(CLI::Range(1, 1000));
  command->add_flag("--json", options->json, "print a JSON list on stdout");
  command->add_option("images", options->images, "image files (JPEG, PNG, ...) or http(s) URLs of images")
      ->required();
  command->callback([options] { run_classify(*options); });
}

}  // namespace distrvit::cli
