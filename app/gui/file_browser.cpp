#include "file_browser.h"

#include <algorithm>
#include <filesystem>

#include "distrvit/dataset.h"
#include "frame_source.h"

namespace distrvit::gui {
namespace {

namespace fs = std::filesystem;

bool shown_file(FileBrowser::Purpose purpose, const std::string& name) {
  switch (purpose) {
    case FileBrowser::Purpose::Source: return is_image_file_name(name) || media::is_video_file_name(name);
    case FileBrowser::Purpose::Model: return fs::path(name).extension() == ".safetensors";
    case FileBrowser::Purpose::SweepFolder: return false;
  }
  return false;
}

// Absolute, without "." or ".." parts or a trailing '/', so that going up always moves.
std::string normal_folder(const std::string& path) {
  if (path.empty()) return path;
  std::error_code error;
  fs::path normal = fs::absolute(path, error).lexically_normal();
  if (normal.has_relative_path() && !normal.has_filename()) normal = normal.parent_path();
  return normal.string();
}

}  // namespace

void FileBrowser::open(Purpose purpose, const std::string& start) {
  purpose_ = purpose;
  open_ = true;
  picked_.reset();
  std::error_code error;
  std::string folder = fs::is_directory(start, error) ? start : fs::path(start).parent_path().string();
  if (folder.empty() || !fs::is_directory(folder, error)) folder = ".";
  go_to(folder);
}

void FileBrowser::go_to(const std::string& folder) {
  folder_ = normal_folder(folder);
  folders_.clear();
  files_.clear();
  selected_.clear();
  error_.clear();
  std::error_code error;
  // No skip_permission_denied: an unreadable folder must say so rather than look empty.
  for (fs::directory_iterator it(folder_, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_error;
    if (it->is_directory(type_error)) folders_.push_back(name);
    else if (shown_file(purpose_, name)) files_.push_back(name);
  }
  if (error) {
    error_ = folder_ + ": " + error.message();
    folders_.clear();
    files_.clear();
  }
  std::sort(folders_.begin(), folders_.end());
  std::sort(files_.begin(), files_.end());
}

void FileBrowser::enter(const std::string& name) {
  if (std::find(folders_.begin(), folders_.end(), name) != folders_.end()) go_to((fs::path(folder_) / name).string());
}

void FileBrowser::go_up() { go_to(fs::path(folder_).parent_path().string()); }

bool FileBrowser::select(const std::string& name) {
  const bool listed = std::find(files_.begin(), files_.end(), name) != files_.end();
  selected_ = listed ? name : "";
  return listed;
}

std::string FileBrowser::selected() const { return selected_.empty() ? "" : (fs::path(folder_) / selected_).string(); }

bool FileBrowser::pick_file() {
  if (selected_.empty()) return false;
  pick(selected());
  return true;
}

bool FileBrowser::pick_folder() {
  if (!error_.empty()) return false;
  pick(folder_);
  return true;
}

void FileBrowser::cancel() { open_ = false; }

void FileBrowser::pick(const std::string& path) {
  picked_ = path;
  open_ = false;
}

std::optional<std::string> FileBrowser::take_picked() {
  std::optional<std::string> picked;
  picked.swap(picked_);
  return picked;
}

}  // namespace distrvit::gui
