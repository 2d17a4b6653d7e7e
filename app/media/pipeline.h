// The live classification pipeline shared by distrvit-gui and `distrvit webcam`:
// a capture thread reads frames into a one-frame mailbox (the newest frame wins), an inference thread
// takes the newest, preprocesses it, runs the engine(s) and publishes the result. Configuration changes
// are picked up between frames; engines are (re)built on the inference thread, never on the caller's.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "distrvit/labels.h"
#include "engine_set.h"
#include "frame_result.h"
#include "frame_source.h"
#include "pipeline_config.h"
#include "rate_meter.h"

namespace distrvit::media {

struct PipelineStatus {
  std::string source;        // the current source, described
  bool source_open = false;
  bool source_ended = false; // its end was reached (not looping), or it failed
  bool playing = true;
  std::string source_error;  // why it could not be opened, or why it stopped
  std::string engine_state;  // "loading model ...", "ready", ...
  std::string engine_error;  // why the latest configuration (model, device, precision, attention) failed; "" = it applied
  std::string error;         // the latest error of either kind, one line
  int64_t errors = 0;        // errors so far
  int64_t frames_captured = 0;
  int64_t frames_processed = 0;
  int64_t frames_dropped = 0;  // replaced in the mailbox by a newer frame before inference took them
  bool drained = false;        // source ended and every captured frame has been classified
  double source_fps = 0;       // the rate the source plays at (0: a camera's own pace)
  int64_t source_frames = -1;  // frames in the source, -1 when unknown
  uint64_t applied_config_version = 0;
  int engine_builds = 0;  // times model or device changes rebuilt the engines (attention changes do not)
  std::shared_ptr<const VitModel> model;  // null until a model is loaded
  std::string device;
  std::string attention;  // the plan that runs
};

class Pipeline {
 public:
  using ResultCallback = std::function<void(const FrameResult&)>;

  // Starts the threads and the engine build; `on_result` runs on the inference thread after each frame.
  Pipeline(PipelineConfig config, PlaybackOptions playback, ResultCallback on_result = {});
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  void open(const SourceSpec& source);           // opened on the capture thread; failures land in status()
  uint64_t configure(const PipelineConfig& config);  // returns the version results will carry
  PipelineConfig config() const;
  void set_playing(bool playing);
  void step();  // while paused: let exactly one more frame through
  void set_playback(const PlaybackOptions& playback);

  std::shared_ptr<const FrameResult> latest() const;  // null before the first result
  PipelineStatus status() const;

 private:
  void capture_loop();
  void inference_loop();
  static bool read_next_frame(FrameSource& source, bool loop, CapturedFrame& frame);
  std::shared_ptr<FrameResult> classify(const CapturedFrame& frame, bool reprocessed, uint64_t version);
  std::vector<RankedClass> rank_classes(const Tensor& logits, const ClassList& labels) const;
  const ClassList& labels_of(const std::shared_ptr<const VitModel>& model);
  void record_error(const std::string& message);  // caller holds mutex_

  mutable std::mutex mutex_;
  std::condition_variable capture_wake_;
  std::condition_variable inference_wake_;
  bool stopping_ = false;

  // Capture side (guarded by mutex_ except `source_`, which only the capture thread touches).
  std::unique_ptr<SourceSpec> pending_source_;
  std::unique_ptr<FrameSource> source_;
  std::shared_ptr<std::atomic<bool>> source_cancel_;  // set when source_ (or the one opening) is to stop
  PlaybackOptions playback_;
  bool playing_ = true;
  int step_requests_ = 0;
  bool restart_pacing_ = true;
  std::shared_ptr<const CapturedFrame> mailbox_;     // the newest frame not yet taken by inference
  std::shared_ptr<const CapturedFrame> last_frame_;  // the frame behind the latest result
  bool inference_busy_ = false;

  // Inference side.
  PipelineConfig config_;
  uint64_t config_version_ = 1;
  uint64_t applied_version_ = 0;
  EngineSet engines_;  // only the inference thread touches it
  ResultCallback on_result_;
  ClassList classes_;  // ImageNet-1k's
  std::shared_ptr<const VitModel> labelled_model_;  // the model model_labels_ are of
  ClassList model_labels_;
  RateMeter rate_;
  int64_t next_sequence_ = 1;

  std::shared_ptr<const FrameResult> latest_;
  PipelineStatus status_;

  std::thread capture_thread_;
  std::thread inference_thread_;
};

}  // namespace distrvit::media
