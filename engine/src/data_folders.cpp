#include "data_folders.h"

#include <algorithm>
#include <cstdlib>
#include <system_error>

namespace distrvit {
namespace fs = std::filesystem;

std::vector<fs::path> data_folder_candidates(const char* env_var, const fs::path& installed, const fs::path& source) {
  std::vector<fs::path> candidates;
  auto add = [&](const fs::path& folder) {
    const fs::path normal = folder.lexically_normal();
    if (std::find(candidates.begin(), candidates.end(), normal) == candidates.end()) candidates.push_back(normal);
  };
  if (const char* env = std::getenv(env_var); env && *env) add(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    add(exe.parent_path() / ".." / "share" / "distrvit" / installed);
    add(exe.parent_path() / ".." / ".." / source);
  }
  add(fs::path(DISTRVIT_SOURCE_DIR) / source);
  return candidates;
}

}  // namespace distrvit
