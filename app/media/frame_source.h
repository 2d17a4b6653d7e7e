// Where frames come from: a camera, a video file, or image files; every source gives RGB8 frames.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "distrvit/image.h"

namespace distrvit::media {

using Clock = std::chrono::steady_clock;

struct SourceSpec {
  enum class Kind { None, Camera, Video, Images };
  Kind kind = Kind::None;
  int camera_index = 0;
  std::vector<std::string> paths;  // Video: one file or stream URL. Images: image files and/or folders (sorted).

  static SourceSpec camera(int index);
  static SourceSpec video(const std::string& path);
  static SourceSpec images(std::vector<std::string> paths);
  std::string describe() const;  // "camera 0", "video clip.mp4", "images photos/"
};

struct CapturedFrame {
  ImageU8 image;
  int64_t index = 0;  // position in the source
  std::string name;   // image file name for image sources, empty otherwise
  Clock::time_point captured;
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Next frame; false at the end of a file or list. Throws Error naming the source when reading fails.
  virtual bool read(CapturedFrame& frame) = 0;
  virtual bool rewind() = 0;               // back to the first frame; false when the source cannot
  virtual double frame_rate() const = 0;   // frames per second to play at; 0 = as they come (cameras)
  virtual bool live() const = 0;           // a camera or live stream: frames come at their own pace, no replay
  virtual int64_t frame_count() const = 0; // -1 when unknown
  virtual std::string name() const = 0;
};

// Set from another thread to make a network stream's blocking open or read give up at once (with an Error).
using CancelFlag = std::shared_ptr<const std::atomic<bool>>;

// Opens `spec`, reading nothing beyond what proves it works. Throws Error("<source>: <problem>"):
// no such camera or a busy one, a missing or undecodable video, a folder without images.
std::unique_ptr<FrameSource> open_source(const SourceSpec& spec, CancelFlag cancel = nullptr);

// Cameras (OpenCV) and video files (FFmpeg, else OpenCV). Without those they throw an Error saying so.
// Only FFmpeg's sources heed `cancel`.
std::unique_ptr<FrameSource> open_camera(int index);
std::unique_ptr<FrameSource> open_video(const std::string& path, CancelFlag cancel = nullptr);
std::string video_backend();  // what decodes videos, e.g. "FFmpeg 5.1.6 (libavcodec 59.37.100)"; "" when nothing does
void check_video_path(const std::string& path);  // throws Error when `path` is missing or a folder; URLs pass
// "<scheme>://...": a network stream or remote file (rtsp://, http://, udp://, ...), opened by the demuxer itself.
bool is_stream_url(const std::string& path);
// A URL whose scheme only carries live streams (rtsp, rtmp, rtp, udp, srt, tcp): no length, no replay.
bool has_live_scheme(const std::string& url);

// Still images, shown for `seconds_per_image` each while playing.
std::unique_ptr<FrameSource> open_images(const std::vector<std::string>& paths, double seconds_per_image = 1.0);

bool is_video_file_name(const std::string& name);  // by extension: mp4, avi, mkv, mov, webm, ...

}  // namespace distrvit::media
