// Stand-in used when distrvit is built with neither FFmpeg nor OpenCV: video files are unavailable.
#include "distrvit/error.h"
#include "frame_source.h"

namespace distrvit::media {

std::string video_backend() { return ""; }

std::unique_ptr<FrameSource> open_video(const std::string& path, CancelFlag) {
  fail(path, "this build has no video support (neither FFmpeg nor OpenCV was found at configure time)");
}

}  // namespace distrvit::media
