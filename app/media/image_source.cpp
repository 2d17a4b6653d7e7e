// Still images as a frame source: files and folders (searched recursively), in sorted order.
#include <filesystem>

#include "distrvit/dataset.h"
#include "frame_source.h"

namespace distrvit::media {
namespace {

namespace fs = std::filesystem;

class ImageListSource : public FrameSource {
 public:
  ImageListSource(std::vector<std::string> files, double seconds_per_image)
      : files_(std::move(files)), seconds_per_image_(seconds_per_image) {}

  bool read(CapturedFrame& frame) override {
    if (next_ >= files_.size()) return false;
    const size_t index = next_++;
    frame.image = decode_image_file(files_[index]);  // throws naming the file
    frame.index = static_cast<int64_t>(index);
    frame.name = fs::path(files_[index]).filename().string();
    frame.captured = Clock::now();
    return true;
  }
  bool rewind() override {
    next_ = 0;
    return true;
  }
  double frame_rate() const override { return seconds_per_image_ > 0 ? 1.0 / seconds_per_image_ : 0.0; }
  bool live() const override { return false; }
  int64_t frame_count() const override { return static_cast<int64_t>(files_.size()); }
  std::string name() const override {
    return files_.size() == 1 ? files_.front() : std::to_string(files_.size()) + " images";
  }

 private:
  std::vector<std::string> files_;
  double seconds_per_image_;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<FrameSource> open_images(const std::vector<std::string>& paths, double seconds_per_image) {
  return std::make_unique<ImageListSource>(expand_image_paths(paths), seconds_per_image);
}

}  // namespace distrvit::media
