// Video files through OpenCV: used when FFmpeg's libraries were not found but OpenCV was.
#include <opencv2/core/version.hpp>

#include "capture_source_opencv.h"

namespace distrvit::media {

std::string video_backend() { return "OpenCV " CV_VERSION; }

std::unique_ptr<FrameSource> open_video(const std::string& path, CancelFlag) { return open_opencv_video(path); }

}  // namespace distrvit::media
