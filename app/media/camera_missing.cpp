// Stand-in used when distrvit is built without OpenCV: cameras are unavailable.
#include "distrvit/error.h"
#include "frame_source.h"

namespace distrvit::media {

std::unique_ptr<FrameSource> open_camera(int index) {
  fail("camera " + std::to_string(index), "this build has no camera support (OpenCV was not found at configure time)");
}

}  // namespace distrvit::media
