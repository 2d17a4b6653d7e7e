// distrvit classify IMAGE|FOLDER|URL...: top-k labels and probabilities. Folders are searched for image files,
// http(s) URLs fetched into the cache first; images go through the model in batches.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "distrvit/batch_loader.h"
#include "distrvit/calibrate.h"
#include "distrvit/dataset.h"
#include "distrvit/evaluation.h"
#include "distrvit/image_url.h"
#include "distrvit/labels.h"

namespace distrvit::cli {
namespace {

constexpr int kDecodeThreads = 4;

struct ClassifyOptions {
  ModelOptions model;
  std::vector<std::string> images;
  std::string attention = "exact";
  int topk = 5;
  int batch = 32;
  bool json = false;
};

// One image to classify: as the command line named it (file, file in a folder, URL) and the file to read.
struct ClassifyInput {
  std::string name;
  std::string file;
};

std::vector<ClassifyInput> expand_inputs(const std::vector<std::string>& specs) {
  std::vector<ClassifyInput> inputs;
  for (const std::string& spec : specs) {
    if (is_image_url(spec)) {
      inputs.push_back({spec, resolve_image_url(spec)});
      continue;
    }
    for (const std::string& file : expand_image_paths({spec})) inputs.push_back({file, file});
  }
  return inputs;
}

void run_classify(const ClassifyOptions& o) {
  const ClassList imagenet = default_class_list();
  const std::vector<ClassifyInput> inputs = expand_inputs(o.images);  // a missing path fails before the model loads
  const auto model = o.model.load();
  const ClassList classes = model_class_list(model->config, imagenet);
  auto engine = create_engine(model, o.model.engine_options());
  engine->set_attention(resolve_attention(o.attention, *model));

  // Every image is classified before anything prints: a bad one ends the run with its error and no output.
  std::vector<std::string> files;
  for (const ClassifyInput& input : inputs) files.push_back(input.file);
  // The loader decodes; forward_images preprocesses (on the GPU with the CUDA backend).
  BatchLoader loader(files, model->config.preprocess, o.batch, kDecodeThreads, BatchContent::Decoded);
  std::vector<std::vector<Prediction>> tops(inputs.size());
  const bool show_progress = inputs.size() > size_t(o.batch) && isatty(fileno(stderr));
  const auto started = std::chrono::steady_clock::now();
  std::vector<ImageU8> images;
  std::vector<const ImageU8*> image_pointers;
  size_t first = 0;
  while (loader.next(images, first)) {
    image_pointers.clear();
    for (const ImageU8& image : images) image_pointers.push_back(&image);
    const Tensor logits = engine->forward_images(image_pointers);  // [b, classes]
    const int64_t num_classes = logits.dim(1);
    for (int64_t i = 0; i < logits.dim(0); ++i)
      tops[first + i] = top_k(logits.ptr() + i * num_classes, num_classes, o.topk);
    if (show_progress) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      print_progress("classify", first + logits.dim(0), inputs.size(), seconds);
    }
  }

  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (o.json) {
      nlohmann::json entries = nlohmann::json::array();
      for (const Prediction& p : tops[i])
        entries.push_back({{"index", p.index}, {"label", classes.label(p.index)}, {"prob", p.prob}});
      results.push_back({{"image", inputs[i].name}, {"top", entries}});
      continue;
    }
    std::printf("%s\n", inputs[i].name.c_str());
    for (const Prediction& p : tops[i])
      std::printf("  %6.2f%%  %4d  %s\n", 100.0 * p.prob, p.index, classes.label(p.index).c_str());
  }
  if (o.json) std::printf("%s\n", results.dump(2).c_str());
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto options = std::make_shared<ClassifyOptions>();
  CLI::App* command = app.add_subcommand("classify", "print the top-k classes of images");
  options->model.add_to(*command);
  command->add_option("--attention", options->attention,
                      "attention configuration (exact, cudnn, distr:l=64:G=2, plan:FILE, plan:calibrated, ...)")
      ->capture_default_str();
  command->add_option("--topk,-k", options->topk, "how many classes to print")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  command->add_option("--batch,-b", options->batch, "images per forward pass")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  command->add_flag("--json", options->json, "print a JSON list on stdout");
  command->add_option("images", options->images,
                      "image files (JPEG, PNG, ...), folders of them (searched recursively) or http(s) URLs")
      ->required();
  command->callback([options] { run_classify(*options); });
}

}  // namespace distrvit::cli
