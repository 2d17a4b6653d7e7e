// distrvit validate --data DIR: top-1/top-5 and throughput of one or more attention configurations
// in one pass over the data; the first configuration is the reference for agreement and KL.
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "accuracy_plot.h"
#include "commands.h"
#include "common.h"
#include "distrvit/calibrate.h"
#include "distrvit/batch_loader.h"
#include "distrvit/dataset.h"
#include "distrvit/error.h"
#include "distrvit/evaluation.h"
#include "distrvit/text_file.h"

namespace distrvit::cli {
namespace {

struct ValidateOptions {
  ModelOptions model;
  std::string data;
  std::string labels;
  std::string attention = "exact";
  size_t limit = 0;
  int every = 0;
  int skip_every = 0;
  int batch = 16;
  int loader_threads = 0;
  std::string preprocess = "auto";  // cpu | gpu | auto (gpu on CUDA)
  std::string json_path;
  std::string csv_path;
  std::string plot_path;
};

struct ConfigRun {
  std::string name;
  AttentionPlan plan;
  AccuracyStats stats;
};

nlohmann::json to_json(const ConfigRun& run, bool has_reference) {
  const AccuracyStats& s = run.stats;
  nlohmann::json j = {{"attention", run.name},
                      {"top1", s.top1()},
                      {"top5", s.top5()},
                      {"images", s.images},
                      {"images_per_second", s.seconds > 0 ? s.images / s.seconds : 0.0},
                      {"attention_share", s.seconds > 0 ? s.attention_seconds / s.seconds : 0.0}};
  if (has_reference) {
    j["agreement_with_reference"] = s.agreement();
    j["mean_kl_from_reference"] = s.mean_kl();
  }
  return j;
}

std::string to_csv(const std::vector<ConfigRun>& runs) {
  std::string csv = "attention,top1,top5,agreement,mean_kl,images,images_per_second,attention_share\n";
  for (size_t i = 0; i < runs.size(); ++i) {  // runs[0] is the reference: no agreement or KL of its own
    const AccuracyStats& s = runs[i].stats;
    const std::string versus = i == 0 ? "," : fmt::format("{:.3f},{:.6f}", s.agreement(), s.mean_kl());
    csv += fmt::format("\"{}\",{:.3f},{:.3f},{},{},{:.2f},{:.4f}\n", runs[i].name, s.top1(), s.top5(), versus,
                       s.images, s.seconds > 0 ? s.images / s.seconds : 0.0,
                       s.seconds > 0 ? s.attention_seconds / s.seconds : 0.0);
  }
  return csv;
}

void print_table(const std::vector<ConfigRun>& runs) {
  std::printf("%-40s %7s %7s %9s %9s %9s %7s\n", "attention", "top-1", "top-5", "agree", "mean KL", "img/s", "attn%");
  for (size_t i = 0; i < runs.size(); ++i) {  // runs[0] is the reference the others are compared with
    const AccuracyStats& s = runs[i].stats;
    const std::string versus = i == 0 ? fmt::format("{:>9} {:>9}", "(ref)", "(ref)")
                                      : fmt::format("{:8.2f}% {:9.5f}", s.agreement(), s.mean_kl());
    std::printf("%-40s %6.2f%% %6.2f%% %s %9.1f %6.1f%%\n", runs[i].name.c_str(), s.top1(), s.top5(), versus.c_str(),
                s.seconds > 0 ? s.images / s.seconds : 0.0,
                s.seconds > 0 ? 100.0 * s.attention_seconds / s.seconds : 0.0);
  }
}

// Where resize, crop and normalize run: on the loader's CPU threads, or on the GPU by Engine::forward_images (the
// loader then only decodes).
bool preprocess_on_gpu(const std::string& preprocess, DeviceKind device) {
  if (preprocess == "cpu") return false;
  if (preprocess == "auto") return device == DeviceKind::Cuda;
  if (device != DeviceKind::Cuda) throw Error("--preprocess gpu: needs the CUDA backend (--device cuda)");
  return true;
}

void run_validate(const ValidateOptions& o) {
  const ClassList classes = default_class_list();
  const std::vector<LabelledImage> images =
      split_images(list_labelled_images(o.data, o.labels, classes, o.limit), o.every, o.skip_every);
  if (images.empty()) throw Error(o.data + ": no images left after --every/--skip-every");
  const auto model = o.model.load();
  require_imagenet_classes(model->config, model->source);
  const EngineOptions engine_options = o.model.engine_options();
  const bool gpu_preprocessing = preprocess_on_gpu(o.preprocess, engine_options.device);
  auto engine = create_engine(model, engine_options);
  std::vector<ConfigRun> runs;
  for (const std::string& name : split_attention_list(o.attention)) {
    runs.push_back({name, resolve_attention(name, *model), {}});
  }

  std::vector<std::string> paths;
  for (const LabelledImage& image : images) paths.push_back(image.path);
  const int threads = o.loader_threads > 0 ? o.loader_threads : int(std::max(1u, std::thread::hardware_concurrency()));
  const auto start = std::chrono::steady_clock::now();
  BatchLoader loader(paths, model->config.preprocess, o.batch, threads,
                     gpu_preprocessing ? BatchContent::Decoded : BatchContent::Preprocessed);
  Tensor batch, reference;
  std::vector<ImageU8> decoded;
  std::vector<const ImageU8*> decoded_pointers;
  size_t first = 0, done = 0;
  std::set<std::pair<size_t, int64_t>> warmed_up;  // (configuration, batch size)
  while (gpu_preprocessing ? loader.next(decoded, first) : loader.next(batch, first)) {
    decoded_pointers.clear();
    for (const ImageU8& image : decoded) decoded_pointers.push_back(&image);
    const int64_t batch_size = gpu_preprocessing ? int64_t(decoded.size()) : batch.dim(0);
    for (size_t c = 0; c < runs.size(); ++c) {
      engine->set_attention(runs[c].plan);
      auto run_forward = [&] { return gpu_preprocessing ? engine->forward_images(decoded_pointers) : engine->forward(batch); };
      // On CUDA the first forward of a (configuration, batch size) autotunes GEMMs and captures its graph: untimed.
      if (engine_options.device == DeviceKind::Cuda && warmed_up.insert({c, batch_size}).second) run_forward();
      const auto t0 = std::chrono::steady_clock::now();
      Tensor logits = run_forward();
      runs[c].stats.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      runs[c].stats.attention_seconds += engine->last_timing().attention_ms / 1000.0;
      const int64_t classes_out = logits.dim(1);
      for (int64_t i = 0; i < logits.dim(0); ++i) {
        const float* ref = c > 0 ? reference.ptr() + i * classes_out : nullptr;
        runs[c].stats.add(logits.ptr() + i * classes_out, ref, classes_out, images[first + i].label);
      }
      if (c == 0) reference = std::move(logits);
    }
    done += gpu_preprocessing ? decoded.size() : size_t(batch.dim(0));
    print_progress("validate", done, images.size(),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const double wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double end_to_end_rate = wall_seconds > 0 ? double(done) / wall_seconds : 0.0;
  print_table(runs);
  // img/s above counts each configuration's forward calls only (with --preprocess gpu they include the GPU
  // preprocessing); this line is the wall clock of the whole pass, decoding included.
  std::printf("end to end: %zu images in %.2f s, %.1f images/s (preprocess on %s, %d loader threads, %zu "
              "configurations)\n",
              done, wall_seconds, end_to_end_rate, gpu_preprocessing ? "gpu" : "cpu", threads, runs.size());

  if (!o.json_path.empty()) {
    nlohmann::json j = to_json(runs[0], false);
    j["model"] = model->source;
    j["architecture"] = model->config.architecture;
    j["device"] = engine->device_name();
    j["precision"] = precision_name(engine_options.precision);
    j["preprocess"] = gpu_preprocessing ? "gpu" : "cpu";
    j["end_to_end_images_per_second"] = end_to_end_rate;
    j["data"] = o.data;
    j["configs"] = nlohmann::json::array();
    for (size_t i = 0; i < runs.size(); ++i) j["configs"].push_back(to_json(runs[i], i > 0));
    write_text_file(o.json_path, j.dump(2) + "\n");
  }
  if (!o.csv_path.empty()) write_text_file(o.csv_path, to_csv(runs));
  if (!o.plot_path.empty()) {
    std::vector<PlotPoint> points;
    for (const ConfigRun& run : runs) {
      points.push_back({run.name, run.stats.images ? 1000.0 * run.stats.seconds / run.stats.images : 0.0, run.stats.top1()});
    }
    write_text_file(o.plot_path, accuracy_latency_svg(points, fmt::format("{} on {} ({} images, {})", model->config.architecture,
                                                                           o.data, images.size(), engine->device_name())));
  }
}

}  // namespace

void add_validate_command(CLI::App& app) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* command = app.add_subcommand("validate", "top-1/top-5 and images/s on an ImageNet-style folder");
  options->model.add_to(*command);
  command->add_option("--data", options->data, "<synset>/<images> tree, or a flat folder with --labels")->required();
  command->add_option("--labels", options->labels, "labels file '<file> <class>' for a flat folder");
  command->add_option("--limit", options->limit, "use the first N images (sorted by path)");
  command->add_option("--every", options->every, "keep only images whose sorted index is a multiple of N");
  command->add_option("--skip-every", options->skip_every,
                      "drop images whose sorted index is a multiple of N (the complement of calibrate --every N)");
  command->add_option("--batch,-b", options->batch, "batch size")->capture_default_str()->check(CLI::Range(1, 4096));
  command->add_option("--loader-threads", options->loader_threads, "decode threads (0 = all cores)");
  command->add_option("--preprocess", options->preprocess,
                      "where resize/crop/normalize run: cpu (loader threads), gpu, auto (gpu on cuda)")
      ->check(CLI::IsMember({"cpu", "gpu", "auto"}))
      ->capture_default_str();
  command->add_option("--attention", options->attention,
                      "comma-separated configurations, e.g. exact,cudnn,distr:l=64:G=2,plan:FILE,plan:calibrated")
      ->capture_default_str();
  command->add_option("--json", options->json_path, "write results as JSON");
  command->add_option("--csv", options->csv_path, "write one CSV row per configuration");
  command->add_option("--plot", options->plot_path, "write an accuracy-vs-latency plot (SVG)");
  command->callback([options] { run_validate(*options); });
}

}  // namespace distrvit::cli
