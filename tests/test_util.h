// Shared helpers for the test suites: where ../shared is, temporary files.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "distrvit/image.h"

namespace distrvit::test {

// The read-only data folder beside the repository (DISTRVIT_SHARED overrides).
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("DISTRVIT_SHARED")) return env;
  return std::filesystem::path(DISTRVIT_SOURCE_DIR) / ".." / "shared";
}

inline std::filesystem::path golden_dir(const std::string& name) { return shared_dir() / "golden" / name; }

inline std::filesystem::path real_model_dir() {
  return shared_dir() / "models" / "vit_tiny_patch16_224.augreg_in21k_ft_in1k";
}

// width x height RGB8 pixels, each uniform in [0, 255].
inline ImageU8 random_image(std::mt19937& rng, int width, int height) {
  ImageU8 image;
  image.width = width;
  image.height = height;
  image.rgb.resize(size_t(width) * size_t(height) * 3);
  std::uniform_int_distribution<int> value(0, 255);
  for (uint8_t& v : image.rgb) v = uint8_t(value(rng));
  return image;
}

// A fresh empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "distrvit-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace distrvit::test
