// Cameras, and video files when FFmpeg is not linked directly, through OpenCV's VideoCapture, converted from BGR
// to RGB8.
#include <cstdlib>
#include <cstring>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <opencv2/videoio/registry.hpp>

#include "capture_source_opencv.h"
#include "distrvit/error.h"

namespace distrvit::media {
namespace {

constexpr double kFallbackVideoFps = 25.0;

// OpenCV (and FFmpeg under it) print their own warnings when a device or file fails; ours say it in one line.
void silence_opencv_logging() {
  static const bool silenced = [] {
    setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);  // AV_LOG_QUIET, read when OpenCV first loads its FFmpeg backend
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    return true;
  }();
  (void)silenced;
}

void to_rgb(const cv::Mat& frame, ImageU8& out) {
  cv::Mat rgb;
  switch (frame.channels()) {
    case 1: cv::cvtColor(frame, rgb, cv::COLOR_GRAY2RGB); break;
    case 4: cv::cvtColor(frame, rgb, cv::COLOR_BGRA2RGB); break;
    default: cv::cvtColor(frame, rgb, cv::COLOR_BGR2RGB); break;
  }
  if (rgb.depth() != CV_8U) rgb.convertTo(rgb, CV_8U);
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.rgb.resize(static_cast<size_t>(rgb.cols) * rgb.rows * 3);
  const size_t row_bytes = static_cast<size_t>(rgb.cols) * 3;
  for (int y = 0; y < rgb.rows; ++y) std::memcpy(out.rgb.data() + y * row_bytes, rgb.ptr(y), row_bytes);
}

class CaptureSource : public FrameSource {
 public:
  CaptureSource(cv::VideoCapture capture, cv::Mat first_frame, std::string name, std::string path, int backend,
                bool live)
      : capture_(std::move(capture)), pending_(std::move(first_frame)), name_(std::move(name)),
        path_(std::move(path)), backend_(backend), live_(live) {
    const double fps = capture_.get(cv::CAP_PROP_FPS);
    frame_rate_ = live_ ? 0.0 : (fps > 0 && fps < 1000 ? fps : kFallbackVideoFps);
    const double count = capture_.get(cv::CAP_PROP_FRAME_COUNT);
    frame_count_ = live_ || count <= 0 ? -1 : static_cast<int64_t>(count);
  }

  bool read(CapturedFrame& frame) override {
    cv::Mat mat;
    if (!pending_.empty()) {
      mat = std::move(pending_);
      pending_ = cv::Mat();
    } else if (!capture_.read(mat) || mat.empty()) {
      if (live_) fail(name_, "stopped giving frames (unplugged, or taken by another program)");
      return false;
    }
    to_rgb(mat, frame.image);
    frame.index = next_index_++;
    frame.name.clear();
    frame.captured = Clock::now();
    return true;
  }

  bool rewind() override {
    if (live_) return false;
    // Reopening is more reliable than seeking to frame 0 across containers and codecs.
    capture_.release();
    if (!capture_.open(path_, backend_)) return false;
    pending_ = cv::Mat();
    next_index_ = 0;
    return true;
  }

  double frame_rate() const override { return frame_rate_; }
  bool live() const override { return live_; }
  int64_t frame_count() const override { return frame_count_; }
  std::string name() const override { return name_; }

 private:
  cv::VideoCapture capture_;
  cv::Mat pending_;  // the frame read while opening, handed out first
  std::string name_;
  std::string path_;
  int backend_;
  bool live_;
  double frame_rate_ = 0;
  int64_t frame_count_ = -1;
  int64_t next_index_ = 0;
};

}  // namespace

std::unique_ptr<FrameSource> open_camera(int index) {
  silence_opencv_logging();
  const std::string name = "camera " + std::to_string(index);
  if (index < 0) fail(name, "camera index must be 0 or more");
  cv::VideoCapture capture;
  if (!capture.open(index)) fail(name, "cannot open: no camera with this index, or it is in use by another program");
  cv::Mat first;
  if (!capture.read(first) || first.empty()) fail(name, "opened but gives no frames (busy, or not a capture device)");
  return std::make_unique<CaptureSource>(std::move(capture), std::move(first), name, std::string(), cv::CAP_ANY, true);
}

std::unique_ptr<FrameSource> open_opencv_video(const std::string& path) {
  silence_opencv_logging();
  check_video_path(path);
  // FFmpeg when OpenCV has it: other backends (GStreamer) print pages of warnings on files they cannot read.
  const int backend = cv::videoio_registry::hasBackend(cv::CAP_FFMPEG) ? cv::CAP_FFMPEG : cv::CAP_ANY;
  cv::VideoCapture capture;
  if (!capture.open(path, backend)) fail(path, "cannot open as a video (unknown format, or the file is corrupt)");
  cv::Mat first;
  if (!capture.read(first) || first.empty()) fail(path, "no frame could be decoded (empty or corrupt video)");
  return std::make_unique<CaptureSource>(std::move(capture), std::move(first), path, path, backend,
                                         has_live_scheme(path));
}

}  // namespace distrvit::media
