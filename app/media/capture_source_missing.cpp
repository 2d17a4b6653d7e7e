// Stand-ins used when distrvit is built without OpenCV: cameras and video files are unavailable.
#include "distrvit/error.h"
#include "frame_source.h"

namespace distrvit::media {

bool video_supported() { return false; }

std::unique_ptr<FrameSource> open_camera(int index) {
  fail("camera " + std::to_string(index), "this build has no camera support (OpenCV was not found at configure time)");
}

std::unique_ptr<FrameSource> open_video(const std::string& path) {
  fail(path, "this build has no video support (OpenCV was not found at configure time)");
}

}  // namespace distrvit::media
