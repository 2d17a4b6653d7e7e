#include "accuracy_sweep.h"

#include <filesystem>

#include "distrvit/dataset.h"
#include "distrvit/engine.h"
#include "distrvit/error.h"
#include "distrvit/evaluation.h"
#include "distrvit/hub.h"
#include "distrvit/labels.h"
#include "distrvit/preprocess.h"
#include "engine_set.h"

namespace distrvit::media {
namespace {

namespace fs = std::filesystem;

// Flat folders such as shared/data/imagenet/samples: the class is the synset the file name starts with.
std::vector<LabelledImage> list_synset_named_files(const std::string& folder, const ClassList& classes) {
  std::vector<LabelledImage> images;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !is_image_file_name(name)) continue;
    const int label = classes.index_of_synset(name.substr(0, name.find('_')));
    if (label >= 0) images.push_back({entry.path().string(), label});
  }
  std::sort(images.begin(), images.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return images;
}

std::vector<LabelledImage> list_sweep_images(const std::string& folder, const ClassList& classes, size_t max_images) {
  std::vector<LabelledImage> all;
  try {
    all = list_labelled_images(folder, "", classes);
  } catch (const Error&) {
    all = list_synset_named_files(folder, classes);  // also reports a missing folder below
  }
  if (all.empty()) all = list_synset_named_files(folder, classes);
  if (all.empty()) fail(folder, "no labelled images (expected <synset>/<file> folders or <synset>_<name> files)");
  if (max_images == 0 || all.size() <= max_images) return all;
  std::vector<LabelledImage> spread;
  for (size_t i = 0; i < max_images; ++i) spread.push_back(all[i * all.size() / max_images]);
  return spread;
}

}  // namespace

AccuracySweep::~AccuracySweep() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

void AccuracySweep::start(SweepSettings settings) {
  cancel();
  if (thread_.joinable()) thread_.join();
  cancel_ = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_ = SweepProgress();
    progress_.running = true;
    progress_.stage = "starting";
  }
  thread_ = std::thread([this, settings = std::move(settings)] {
    try {
      run(settings);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      progress_.error = e.what();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.running = false;
    progress_.cancelled = cancel_;
    if (cancel_) progress_.stage = "cancelled";
    else if (progress_.error.empty()) progress_.stage = "done";
  });
}

void AccuracySweep::cancel() { cancel_ = true; }

SweepProgress AccuracySweep::progress() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return progress_;
}

void AccuracySweep::set_stage(const std::string& stage, double fraction) {
  std::lock_guard<std::mutex> lock(mutex_);
  progress_.stage = stage;
  progress_.fraction = fraction;
}

void AccuracySweep::run(const SweepSettings& settings) {
  if (settings.attentions.empty()) throw Error("sweep: no attention configurations given");
  std::shared_ptr<const VitModel> model = settings.model;
  if (!model) {
    const std::string spec = settings.engine.model.empty() ? default_model_spec() : settings.engine.model;
    set_stage("loading model " + spec, 0);
    model = std::make_shared<const VitModel>(load_model(resolve_model(spec)));
  }
  require_imagenet_classes(model->config, model->source);
  const ClassList classes = default_class_list();
  const std::vector<LabelledImage> images = list_sweep_images(settings.folder, classes, settings.max_images);

  // Decoded and cropped once; each configuration only normalizes and runs them.
  const PreprocessConfig& preprocess = model->config.preprocess;
  const double preparing_share = 0.1;
  std::vector<ImageU8> crops;
  for (size_t i = 0; i < images.size(); ++i) {
    if (cancel_) return;
    set_stage("preparing images " + std::to_string(i + 1) + "/" + std::to_string(images.size()),
              preparing_share * i / images.size());
    crops.push_back(resize_and_crop(decode_image_file(images[i].path), preprocess));
  }

  EngineOptions options = parse_device(settings.engine.device);
  if (!settings.engine.precision.empty()) options.precision = parse_precision(settings.engine.precision);
  options.threads = settings.engine.threads;
  std::unique_ptr<Engine> engine = create_engine(model, options);
  Tensor input({1, 3, preprocess.input_height, preprocess.input_width});

  const size_t total = settings.attentions.size() * crops.size();
  for (size_t c = 0; c < settings.attentions.size(); ++c) {
    const std::string& attention = settings.attentions[c];
    engine->set_attention(make_attention_plan(attention, {}, *model));
    AccuracyStats stats;
    for (size_t i = 0; i < crops.size(); ++i) {
      if (cancel_) return;
      set_stage(attention + "  " + std::to_string(i + 1) + "/" + std::to_string(crops.size()),
                preparing_share + (1 - preparing_share) * (c * crops.size() + i) / total);
      normalize_into(crops[i], preprocess, input.ptr());
      const Tensor logits = engine->forward(input);
      const ForwardTiming timing = engine->last_timing();
      stats.add(logits.ptr(), nullptr, logits.dim(-1), images[i].label);
      stats.seconds += timing.total_ms / 1000;
      stats.attention_seconds += timing.attention_ms / 1000;
    }
    SweepPoint point;
    point.attention = attention;
    point.images = stats.images;
    point.top1 = stats.top1();
    point.top5 = stats.top5();
    point.forward_ms = stats.images ? 1000 * stats.seconds / stats.images : 0;
    point.attention_ms = stats.images ? 1000 * stats.attention_seconds / stats.images : 0;
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.points.push_back(point);
  }
  set_stage("done", 1);
}

}  // namespace distrvit::media
