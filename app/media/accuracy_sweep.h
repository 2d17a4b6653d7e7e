// Accuracy against latency over a labelled image folder, one point per attention configuration,
// computed on a background thread that can be cancelled.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "distrvit/model.h"
#include "pipeline_config.h"

namespace distrvit::media {

struct SweepPoint {
  std::string attention;  // the configuration, as --attention takes it
  int64_t images = 0;
  double top1 = 0;          // %
  double top5 = 0;          // %
  double forward_ms = 0;    // mean per image (batch 1)
  double attention_ms = 0;  // mean per image
};

struct SweepSettings {
  std::string folder;  // "<synset>/<file>" tree, or flat "<synset>_<name>.<ext>" files
  std::vector<std::string> attentions;
  size_t max_images = 100;  // spread evenly over the folder's sorted list
  PipelineConfig engine;    // model, device, precision, threads (its attention is ignored)
  std::shared_ptr<const VitModel> model;  // reuse a loaded model; null = load engine.model
};

struct SweepProgress {
  bool running = false;
  bool cancelled = false;
  double fraction = 0;  // 0..1
  std::string stage;    // "preparing images 12/100", "distr:l=64:G=2 40/100"
  std::string error;
  std::vector<SweepPoint> points;  // finished configurations, in order
};

class AccuracySweep {
 public:
  ~AccuracySweep();
  void start(SweepSettings settings);  // cancels and replaces a sweep still running
  void cancel();
  SweepProgress progress() const;

 private:
  void run(const SweepSettings& settings);
  void set_stage(const std::string& stage, double fraction);

  mutable std::mutex mutex_;
  SweepProgress progress_;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace distrvit::media
