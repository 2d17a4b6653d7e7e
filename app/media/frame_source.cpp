#include "frame_source.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "distrvit/error.h"

namespace distrvit::media {

SourceSpec SourceSpec::camera(int index) {
  SourceSpec spec;
  spec.kind = Kind::Camera;
  spec.camera_index = index;
  return spec;
}

SourceSpec SourceSpec::video(const std::string& path) {
  SourceSpec spec;
  spec.kind = Kind::Video;
  spec.paths = {path};
  return spec;
}

SourceSpec SourceSpec::images(std::vector<std::string> paths) {
  SourceSpec spec;
  spec.kind = Kind::Images;
  spec.paths = std::move(paths);
  return spec;
}

std::string SourceSpec::describe() const {
  switch (kind) {
    case Kind::None: return "no source";
    case Kind::Camera: return "camera " + std::to_string(camera_index);
    case Kind::Video: return "video " + (paths.empty() ? std::string("?") : paths.front());
    case Kind::Images:
      if (paths.size() == 1) return "images " + paths.front();
      return "images (" + std::to_string(paths.size()) + " paths)";
  }
  return "?";
}

std::unique_ptr<FrameSource> open_source(const SourceSpec& spec, CancelFlag cancel) {
  switch (spec.kind) {
    case SourceSpec::Kind::Camera: return open_camera(spec.camera_index);
    case SourceSpec::Kind::Video:
      if (spec.paths.size() != 1) throw Error("video: expected exactly one file");
      return open_video(spec.paths.front(), std::move(cancel));
    case SourceSpec::Kind::Images: return open_images(spec.paths);
    case SourceSpec::Kind::None: break;
  }
  throw Error("source: none chosen");
}

bool is_stream_url(const std::string& path) {
  const size_t scheme_end = path.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0 || !std::isalpha(static_cast<unsigned char>(path[0])))
    return false;
  return std::all_of(path.begin(), path.begin() + scheme_end, [](unsigned char c) {
    return std::isalnum(c) || c == '+' || c == '-' || c == '.';
  });
}

bool has_live_scheme(const std::string& url) {
  if (!is_stream_url(url)) return false;
  std::string scheme = url.substr(0, url.find("://"));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  static const char* const kLiveSchemes[] = {"rtsp", "rtsps", "rtmp", "rtmps", "rtp", "udp", "srt", "tcp"};
  return std::any_of(std::begin(kLiveSchemes), std::end(kLiveSchemes),
                     [&](const char* live) { return scheme == live; });
}

void check_video_path(const std::string& path) {
  if (is_stream_url(path)) return;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) fail(path, "no such video file");
  if (std::filesystem::is_directory(path, error)) fail(path, "is a folder, not a video file");
}

bool is_video_file_name(const std::string& name) {
  std::string extension = std::filesystem::path(name).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* const kVideoExtensions[] = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v",
                                                 ".mpg", ".mpeg", ".wmv", ".flv", ".ogv", ".y4m"};
  return std::any_of(std::begin(kVideoExtensions), std::end(kVideoExtensions),
                     [&](const char* known) { return extension == known; });
}

}  // namespace distrvit::media
