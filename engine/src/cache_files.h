// Internal: what downloads into the cache share (hub models, image URLs): where the cache is, whether downloads
// are allowed, and part files that only reach their final name once complete and checked.
#pragma once
#include <filesystem>
#include <string>

#include "distrvit/hub.h"

namespace distrvit::detail {

std::filesystem::path cache_root(const HubOptions& options);  // options.cache_dir, else default_cache_dir()
bool downloads_disabled(const HubOptions& options);           // options.offline or $DISTRVIT_OFFLINE
std::string environment_variable(const char* name);          // "" when unset

// "<name>.part-<pid>" beside its final name; removed unless moved into place.
class PartFile {
 public:
  PartFile(const std::filesystem::path& folder, const std::string& name);
  ~PartFile();
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  void move_to(const std::filesystem::path& final_path);  // throws Error naming final_path

 private:
  std::filesystem::path path_;
};

// What a check of the downloaded file at `path` said, without the "<path>: " its Error begins with (the part
// file's name means nothing to the user).
std::string problem_with(const std::filesystem::path& path, const std::string& error_text);

// Removes the part files in `folder` left behind by processes that died mid-download.
void remove_abandoned_parts(const std::filesystem::path& folder);

}  // namespace distrvit::detail
