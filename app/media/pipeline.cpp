#include "pipeline.h"

#include <optional>

#include "distrvit/error.h"
#include "distrvit/evaluation.h"
#include "distrvit/preprocess.h"

namespace distrvit::media {
namespace {

double milliseconds(Clock::duration duration) { return std::chrono::duration<double, std::milli>(duration).count(); }

// [1, heads, tokens] -> [heads, tokens]
Tensor drop_batch_dimension(Tensor attention) {
  if (attention.shape.size() == 3) attention.shape.erase(attention.shape.begin());
  return attention;
}

ClassList load_labels(std::string& error) {
  try {
    return default_class_list();
  } catch (const std::exception& e) {
    error = e.what();
    return {};
  }
}

}  // namespace

Pipeline::Pipeline(PipelineConfig config, PlaybackOptions playback, ResultCallback on_result)
    : playback_(playback), config_(std::move(config)), on_result_(std::move(on_result)) {
  status_.source = SourceSpec().describe();
  std::string labels_error;
  classes_ = load_labels(labels_error);
  if (!labels_error.empty()) record_error(labels_error);
  capture_thread_ = std::thread(&Pipeline::capture_loop, this);
  inference_thread_ = std::thread(&Pipeline::inference_loop, this);
}

Pipeline::~Pipeline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    if (source_cancel_) source_cancel_->store(true);  // a stream read blocked on the network returns now
  }
  capture_wake_.notify_all();
  inference_wake_.notify_all();
  capture_thread_.join();
  inference_thread_.join();
}

void Pipeline::open(const SourceSpec& source) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (source_cancel_) source_cancel_->store(true);  // the current source, or one still opening, is done with
  pending_source_ = std::make_unique<SourceSpec>(source);
  status_.source = source.describe();
  status_.source_open = false;
  status_.source_ended = false;
  status_.source_error.clear();
  capture_wake_.notify_all();
}

uint64_t Pipeline::configure(const PipelineConfig& config) {
  std::lock_guard<std::mutex> lock(mutex_);
  config_ = config;
  ++config_version_;
  inference_wake_.notify_all();
  return config_version_;
}

PipelineConfig Pipeline::config() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return config_;
}

void Pipeline::set_playing(bool playing) {
  std::lock_guard<std::mutex> lock(mutex_);
  playing_ = playing;
  step_requests_ = 0;
  restart_pacing_ = true;
  capture_wake_.notify_all();
}

void Pipeline::step() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!playing_) ++step_requests_;
  capture_wake_.notify_all();
}

void Pipeline::set_playback(const PlaybackOptions& playback) {
  std::lock_guard<std::mutex> lock(mutex_);
  playback_ = playback;
  restart_pacing_ = true;
  capture_wake_.notify_all();
}

std::shared_ptr<const FrameResult> Pipeline::latest() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return latest_;
}

PipelineStatus Pipeline::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  PipelineStatus status = status_;
  status.playing = playing_;
  status.drained = status_.source_ended && !mailbox_ && !inference_busy_ && !pending_source_;
  return status;
}

void Pipeline::record_error(const std::string& message) {
  status_.error = message;
  ++status_.errors;
}

bool Pipeline::read_next_frame(FrameSource& source, bool loop, CapturedFrame& frame) {
  if (source.read(frame)) return true;
  if (!loop || source.live() || !source.rewind()) return false;
  return source.read(frame);
}

void Pipeline::capture_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  Clock::time_point next_due;
  const auto can_capture = [&] {
    // A live source is read as it comes even for EveryFrame: frames left waiting would only grow the delay.
    return source_ && !status_.source_ended && (playing_ || step_requests_ > 0) &&
           (playback_.pacing != Pacing::EveryFrame || !mailbox_ || source_->live());
  };
  while (true) {
    capture_wake_.wait(lock, [&] { return stopping_ || pending_source_ || can_capture(); });
    if (stopping_) return;

    if (pending_source_) {
      const SourceSpec spec = *pending_source_;
      pending_source_.reset();
      mailbox_.reset();
      source_cancel_ = std::make_shared<std::atomic<bool>>(false);
      const CancelFlag cancel = source_cancel_;
      lock.unlock();
      source_.reset();  // a camera must be released before it can be opened again
      std::unique_ptr<FrameSource> opened;
      std::string error;
      try {
        opened = open_source(spec, cancel);
      } catch (const std::exception& e) {
        error = e.what();
      }
      lock.lock();
      if (pending_source_) continue;  // superseded while opening
      source_ = std::move(opened);
      status_.source_open = source_ != nullptr;
      status_.source_ended = source_ == nullptr;
      status_.source_error = error;
      status_.source_fps = source_ ? source_->frame_rate() : 0;
      status_.source_frames = source_ ? source_->frame_count() : -1;
      if (!error.empty()) record_error(error);
      restart_pacing_ = true;
      continue;
    }

    const bool stepping = !playing_;
    if (stepping) --step_requests_;
    const double frame_rate = source_->frame_rate();
    if (playback_.pacing == Pacing::Realtime && !stepping && frame_rate > 0) {
      const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / frame_rate));
      const auto now = Clock::now();
      if (restart_pacing_ || next_due + period < now) next_due = now;  // (re)start, or fell behind: no catch-up burst
      restart_pacing_ = false;
      const bool interrupted =
          capture_wake_.wait_until(lock, next_due, [&] { return stopping_ || pending_source_ || !playing_; });
      if (interrupted) continue;
      next_due += period;
    }

    const bool loop = playback_.loop;
    lock.unlock();
    CapturedFrame frame;
    bool got_frame = false;
    std::string error;
    try {
      got_frame = read_next_frame(*source_, loop, frame);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    if (pending_source_) continue;
    if (!error.empty()) {
      // A broken image in a list is skipped; a camera that fails is over.
      status_.source_error = error;
      record_error(error);
      if (source_->live()) status_.source_ended = true;
      // A list of broken images must not spin: pause a little before the next one.
      capture_wake_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping_ || pending_source_; });
      continue;
    }
    if (!got_frame) {
      status_.source_ended = true;
      inference_wake_.notify_all();
      continue;
    }
    if (mailbox_) ++status_.frames_dropped;
    mailbox_ = std::make_shared<const CapturedFrame>(std::move(frame));
    ++status_.frames_captured;
    inference_wake_.notify_all();
  }
}

void Pipeline::inference_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t engine_version = 0;
  while (true) {
    inference_wake_.wait(lock, [&] { return stopping_ || mailbox_ || config_version_ != applied_version_; });
    if (stopping_) return;

    std::optional<PipelineConfig> config;
    if (config_version_ != applied_version_) {
      config = config_;
      applied_version_ = config_version_;
    }
    std::shared_ptr<const CapturedFrame> frame = std::move(mailbox_);
    mailbox_.reset();
    bool reprocess = false;
    // A paused or finished source sends no new frame: show the new configuration on the last one.
    if (!frame && config && last_frame_ && (!playing_ || status_.source_ended)) {
      frame = last_frame_;
      reprocess = true;
    }
    inference_busy_ = frame != nullptr;
    capture_wake_.notify_all();
    const uint64_t version = applied_version_;
    lock.unlock();

    if (config) {
      std::string error;
      try {
        engines_.apply(*config, [this](const std::string& state) {
          std::lock_guard<std::mutex> guard(mutex_);
          status_.engine_state = state;
        });
      } catch (const std::exception& e) {
        error = e.what();
      }
      engine_version = version;
      lock.lock();
      if (!error.empty()) record_error(error);
      status_.engine_error = error;
      status_.applied_config_version = version;
      status_.model = engines_.model();
      status_.engine_builds = engines_.builds();
      if (engines_.ready()) {
        status_.device = engines_.main().device_name();
        status_.attention = engines_.main().attention().name;
      }
      lock.unlock();
    }

    std::shared_ptr<FrameResult> result;
    std::string error;
    if (frame && engines_.ready()) {
      try {
        result = classify(*frame, reprocess, engine_version);
      } catch (const std::exception& e) {
        error = e.what();
      }
    }

    lock.lock();
    inference_busy_ = false;
    if (!error.empty()) {
      record_error(error);
      status_.engine_error = error;
    }
    if (result) {
      result->sequence = next_sequence_++;
      latest_ = result;
      last_frame_ = frame;
      ++status_.frames_processed;
    }
    if (result && on_result_) {
      lock.unlock();
      on_result_(*result);
      lock.lock();
    }
  }
}

std::shared_ptr<FrameResult> Pipeline::classify(const CapturedFrame& frame, bool reprocessed, uint64_t version) {
  const VitModel& model = *engines_.model();
  const ClassList& labels = labels_of(engines_.model());
  const PreprocessConfig& preprocess = model.config.preprocess;
  auto result = std::make_shared<FrameResult>();
  result->frame_index = frame.index;
  result->frame_name = frame.name;
  result->reprocessed = reprocessed;
  result->config_version = version;

  const auto started = Clock::now();
  result->input = resize_and_crop(frame.image, preprocess);
  Tensor input({1, 3, preprocess.input_height, preprocess.input_width});
  normalize_into(result->input, preprocess, input.ptr());
  const auto preprocessed = Clock::now();

  Engine& engine = engines_.main();
  const Tensor logits = engine.forward(input);
  const ForwardTiming timing = engine.last_timing();
  result->top5 = rank_classes(logits, labels);
  result->attention_layer = engines_.captured_layer();
  if (result->attention_layer >= 0) result->cls_attention = drop_batch_dimension(engine.captured_cls_attention());
  if (Engine* exact = engines_.exact()) {
    const Tensor exact_logits = exact->forward(input);
    result->timing.exact_forward_ms = exact->last_timing().total_ms;
    result->exact_top5 = rank_classes(exact_logits, labels);
    if (result->attention_layer >= 0) result->exact_cls_attention = drop_batch_dimension(exact->captured_cls_attention());
  } else if (engines_.comparing()) {  // the configured plan is exact: it is its own reference
    result->exact_top5 = result->top5;
    result->exact_cls_attention = result->cls_attention;
  }
  const auto finished = Clock::now();

  result->timing.preprocess_ms = milliseconds(preprocessed - started);
  result->timing.forward_ms = timing.total_ms;
  result->timing.attention_ms = timing.attention_ms;
  result->timing.end_to_end_ms = milliseconds(finished - frame.captured);
  result->fps = rate_.tick(finished);
  result->grid_h = model.config.grid_h();
  result->grid_w = model.config.grid_w();
  result->prefix_tokens = model.config.num_prefix_tokens();
  result->attention = engine.attention().name;
  result->device = engine.device_name();
  result->precision = engines_.precision();
  return result;
}

const ClassList& Pipeline::labels_of(const std::shared_ptr<const VitModel>& model) {
  if (model != labelled_model_) {
    model_labels_ = model_class_list(model->config, classes_);
    labelled_model_ = model;
  }
  return model_labels_;
}

std::vector<RankedClass> Pipeline::rank_classes(const Tensor& logits, const ClassList& labels) const {
  std::vector<RankedClass> ranked;
  const int64_t classes = logits.dim(-1);
  for (const Prediction& top : top_k(logits.ptr(), classes, static_cast<int>(std::min<int64_t>(5, classes)))) {
    RankedClass entry;
    entry.index = top.index;
    entry.probability = top.prob;
    entry.label = labels.label(top.index);
    if (top.index < static_cast<int>(labels.synsets.size())) entry.synset = labels.synsets[top.index];
    ranked.push_back(std::move(entry));
  }
  return ranked;
}

}  // namespace distrvit::media
