// Still images as a frame source: files and folders (searched recursively), in sorted order.
#include <algorithm>
#include <filesystem>
#include <system_error>

#include "distrvit/dataset.h"
#include "distrvit/error.h"
#include "frame_source.h"

namespace distrvit::media {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> expand_image_paths(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, error), end;
           !error && it != end; it.increment(error)) {
        if (it->is_regular_file(error) && is_image_file_name(it->path().string())) found.push_back(it->path().string());
      }
      if (error) fail(path, "cannot list folder: {}", error.message());
      if (found.empty()) fail(path, "folder holds no image files");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, error)) {
      files.push_back(path);
    } else {
      fail(path, "no such file or folder");
    }
  }
  if (files.empty()) throw Error("images: no files given");
  return files;
}

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
