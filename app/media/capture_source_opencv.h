// OpenCV's VideoCapture as a video file source, for builds where FFmpeg is not linked directly.
#pragma once
#include <memory>
#include <string>

#include "frame_source.h"

namespace distrvit::media {

std::unique_ptr<FrameSource> open_opencv_video(const std::string& path);

}  // namespace distrvit::media
