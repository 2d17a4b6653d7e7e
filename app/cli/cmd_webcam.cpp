// distrvit webcam (--camera N | --video FILE|URL): live classification, one line per frame and the mean FPS,
// on the same pipeline as distrvit-gui (capture thread, newest frame wins, inference thread).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "distrvit/error.h"
#include "pipeline.h"

namespace distrvit::cli {
namespace {

struct WebcamOptions {
  ModelOptions model;
  int camera = -1;
  std::string video;
  int frames = 0;
  std::string attention = "exact";
  bool realtime = false;
  bool loop = false;
};

std::atomic<bool> interrupted{false};

void on_interrupt(int) { interrupted = true; }

// Sums over the printed frames, for the closing line.
struct WebcamTally {
  std::mutex mutex;
  int frames = 0;
  double forward_ms = 0, attention_ms = 0, end_to_end_ms = 0;
  std::chrono::steady_clock::time_point first_result, last_result;
};

// "source: video clip.mp4: 10 frames at 30.00 fps, decoded by FFmpeg 5.1.6 (libavcodec 59.37.100); every frame, unpaced"
std::string describe_source(const media::PipelineStatus& status, media::Pacing pacing, const std::string& decoder) {
  std::string line = "source: " + status.source + ":";
  if (status.source_fps <= 0) {
    line += " live";
  } else if (status.source_frames >= 0) {
    line += fmt::format(" {} frames at {:.2f} fps", status.source_frames, status.source_fps);
  } else {
    line += fmt::format(" {:.2f} fps, length unknown", status.source_fps);
  }
  if (!decoder.empty()) line += ", decoded by " + decoder;
  if (status.source_fps <= 0)
    line += "; as frames come, late frames dropped";
  else
    line += pacing == media::Pacing::EveryFrame ? "; every frame, unpaced" : "; real time, late frames dropped";
  return line;
}

// `source_line` is asked for once, before the first frame's line.
void print_frame(const media::FrameResult& result, WebcamTally& tally, int limit,
                 const std::function<std::string()>& source_line) {
  std::lock_guard<std::mutex> lock(tally.mutex);
  if (limit > 0 && tally.frames >= limit) return;
  const auto now = std::chrono::steady_clock::now();
  if (tally.frames == 0) {
    tally.first_result = now;
    std::printf("%s\n", source_line().c_str());
  }
  tally.last_result = now;
  ++tally.frames;
  tally.forward_ms += result.timing.forward_ms;
  tally.attention_ms += result.timing.attention_ms;
  tally.end_to_end_ms += result.timing.end_to_end_ms;
  const media::RankedClass top1 = result.top5.empty() ? media::RankedClass() : result.top5.front();
  std::printf("frame %lld: %s (%.1f%%)  forward %.1f ms  attention %.1f ms  end-to-end %.1f ms  %.1f fps\n",
              static_cast<long long>(result.frame_index), top1.label.c_str(), 100.0 * top1.probability,
              result.timing.forward_ms, result.timing.attention_ms, result.timing.end_to_end_ms, result.fps);
  std::fflush(stdout);
}

void run_webcam(const WebcamOptions& o) {
  if ((o.camera >= 0) == !o.video.empty()) throw Error("webcam: give exactly one of --camera N and --video FILE");
  if (o.loop && o.frames == 0 && o.camera < 0) throw Error("webcam: --loop needs --frames N to end");

  media::PipelineConfig config;
  config.model = o.model.model;
  config.device = o.model.device;
  config.precision = o.model.precision;
  config.threads = o.model.threads;
  config.image_size = o.model.image_size;
  config.attention = o.attention;
  media::PlaybackOptions playback;
  playback.pacing = o.camera >= 0 || o.realtime ? media::Pacing::Realtime : media::Pacing::EveryFrame;
  playback.loop = o.loop;

  WebcamTally tally;
  interrupted = false;
  const auto previous_handler = std::signal(SIGINT, on_interrupt);
  {
    // Results arrive only after open(), by which time `running` is set.
    const media::Pipeline* running = nullptr;
    media::Pipeline pipeline(config, playback, [&](const media::FrameResult& result) {
      print_frame(result, tally, o.frames, [&] {
        return describe_source(running->status(), playback.pacing, o.camera >= 0 ? "" : media::video_backend());
      });
    });
    running = &pipeline;
    pipeline.open(o.camera >= 0 ? media::SourceSpec::camera(o.camera) : media::SourceSpec::video(o.video));
    while (!interrupted) {
      const media::PipelineStatus status = pipeline.status();
      if (!status.source_error.empty()) throw Error(status.source_error);
      if (!status.engine_error.empty()) throw Error(status.engine_error);
      if (status.errors > 0) throw Error(status.error);
      if (o.frames > 0 && status.frames_processed >= o.frames) break;
      if (status.drained) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }  // stops capture and inference
  std::signal(SIGINT, previous_handler);

  std::lock_guard<std::mutex> lock(tally.mutex);
  if (tally.frames == 0) throw Error((o.camera >= 0 ? "camera " + std::to_string(o.camera) : o.video) + ": no frame was classified");
  // Throughput in wall-clock time, from the first result to the last: every frame after the first was decoded,
  // preprocessed and classified inside it. (Before the first result the model loads and warms up.)
  const double seconds = std::chrono::duration<double>(tally.last_result - tally.first_result).count();
  const int timed_frames = tally.frames - 1;
  const std::string rate =
      timed_frames > 0 && seconds > 0
          ? fmt::format("{:.2f} ({} frames; {} completed in {:.3f} s after the first)", timed_frames / seconds,
                        tally.frames, timed_frames, seconds)
          : std::string("n/a (1 frame; timing starts at the first result)");
  std::printf("mean fps: %s; mean forward %.1f ms, attention %.1f ms, end-to-end %.1f ms\n", rate.c_str(),
              tally.forward_ms / tally.frames, tally.attention_ms / tally.frames, tally.end_to_end_ms / tally.frames);
}

}  // namespace

void add_webcam_command(CLI::App& app) {
  auto options = std::make_shared<WebcamOptions>();
  CLI::App* command = app.add_subcommand("webcam", "classify live frames of a camera or a video file");
  auto* camera = command->add_option("--camera", options->camera, "camera index (OpenCV)");
  auto* video = command->add_option("--video", options->video,
                                    "video file, or a stream URL (rtsp://, udp://, http://, ...: FFmpeg's protocols)");
  camera->excludes(video);
  command->add_option("--frames", options->frames, "stop after N frames (default: the whole video; a camera runs until Ctrl-C)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--attention", options->attention, "attention configuration (exact, distr:l=64:G=2, plan:FILE, plan:calibrated, ...)")
      ->capture_default_str();
  options->model.add_to(*command);
  command->add_flag("--realtime", options->realtime,
                    "play a video at its frame rate, dropping frames inference cannot keep up with (default: every "
                    "frame, as fast as decoding and inference go)");
  command->add_flag("--loop", options->loop, "start a video over at its end (with --frames)");
  command->callback([options] { run_webcam(*options); });
}

}  // namespace distrvit::cli
