// distrvit calibrate --images DIR [--output PLAN]: a per-(layer, head) attention plan within a top-1 budget.
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>

#include "commands.h"
#include "common.h"
#include "distrvit/batch_loader.h"
#include "distrvit/calibrate.h"
#include "distrvit/dataset.h"
#include "distrvit/error.h"
#include "distrvit/model_plans.h"

namespace distrvit::cli {
namespace {

struct CalibrateOptions {
  ModelOptions model;
  std::string images;
  std::string labels;
  std::string output;
  std::string candidates = "lowrank:r=32,distr:l=16:G=2";
  size_t limit = 0;
  int every = 4;
  CalibrationOptions calibration;
};

void run_calibrate(CalibrateOptions o) {
  const ClassList classes = default_class_list();
  const auto images = split_images(list_labelled_images(o.images, o.labels, classes, o.limit), o.every, 0);
  auto model = o.model.load();
  require_imagenet_classes(model->config, model->source);
  const bool default_output = o.output.empty();
  const std::string output = default_output ? cached_plan_path(*model) : o.output;
  const std::filesystem::path folder = std::filesystem::path(output).parent_path();
  std::error_code ec;  // made before the minutes of calibration, so that a bad --output fails at once
  if (!folder.empty()) std::filesystem::create_directories(folder, ec);
  if (ec) fail(folder.string(), "cannot create the plan's folder: {}", ec.message());
  EngineOptions engine_options = o.model.engine_options();
  if (engine_options.device != DeviceKind::Cpu) {
    std::fprintf(stderr, "calibrate: running on the CPU (it observes q/k activations)\n");
    engine_options = parse_device("cpu");
  }
  auto engine = create_engine(model, engine_options);
  std::vector<std::string> paths;
  std::vector<int> labels;
  for (const LabelledImage& image : images) {
    paths.push_back(image.path);
    labels.push_back(image.label);
  }
  Tensor input;
  load_images_into(paths, model->config.preprocess, int(std::max(1u, std::thread::hardware_concurrency())), input);
  o.calibration.candidates = split_attention_list(o.candidates);
  const CalibrationReport report = calibrate(*engine, input, labels, o.calibration,
                                             [](const std::string& line) { std::fprintf(stderr, "calibrate: %s\n", line.c_str()); });
  save_calibrated_plan(output, report, model->config);
  std::printf("plan %s: %d of %d heads approximated; calibration top-1 %.2f %% (exact %.2f %%), agreement %.2f %% on %d images\n",
              output.c_str(), report.approximated, report.total, report.plan_top1, report.exact_top1,
              report.plan_agreement, report.images);
  const std::string plan_spec = default_output ? kCalibratedPlanSpec : "plan:" + output;
  std::printf("evaluate on the held-out images: distrvit validate --data %s --skip-every %d --attention exact,%s\n",
              o.images.c_str(), o.every, plan_spec.c_str());
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto options = std::make_shared<CalibrateOptions>();
  CLI::App* command = app.add_subcommand("calibrate", "choose per-(layer, head) approximate attention within a top-1 budget");
  options->model.add_to(*command);
  command->add_option("--images", options->images, "calibration images: <synset>/<images> tree or flat folder + --labels")->required();
  command->add_option("--labels", options->labels, "labels file for a flat folder");
  command->add_option("--output,-o", options->output,
                      "plan file to write (JSON; default: the model's plan in the cache, run by --attention plan:calibrated)");
  command->add_option("--budget", options->calibration.budget_points, "top-1 points the plan may lose")->capture_default_str();
  command->add_option("--margin", options->calibration.margin, "the plan may lose margin x budget points of correct calibration predictions")
      ->capture_default_str();
  command->add_option("--candidates", options->candidates, "approximations to choose from, comma-separated")->capture_default_str();
  command->add_option("--every", options->every, "use images whose sorted index is a multiple of N (the rest stay held out)")
      ->capture_default_str();
  command->add_option("--limit", options->limit, "consider only the first N images of the folder");
  command->add_option("--sensitivity-images", options->calibration.sensitivity_images, "images used to rank heads")
      ->capture_default_str();
  command->add_option("--batch,-b", options->calibration.batch, "batch size")->capture_default_str();
  command->callback([options] { run_calibrate(*options); });
}

}  // namespace distrvit::cli
