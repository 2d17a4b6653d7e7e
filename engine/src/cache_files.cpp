#include "cache_files.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <system_error>

#include "distrvit/error.h"

namespace distrvit::detail {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPartInfix = ".part-";  // "<name>.part-<pid>": a download in progress

bool is_truthy(std::string value) {
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

bool is_running(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

std::string environment_variable(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

fs::path cache_root(const HubOptions& options) {
  return options.cache_dir.empty() ? fs::path(default_cache_dir()) : fs::path(options.cache_dir);
}

bool downloads_disabled(const HubOptions& options) {
  return options.offline || is_truthy(environment_variable("DISTRVIT_OFFLINE"));
}

PartFile::PartFile(const fs::path& folder, const std::string& name)
    : path_(folder / (name + kPartInfix + std::to_string(::getpid()))) {}

PartFile::~PartFile() {
  std::error_code ignored;
  if (!path_.empty()) fs::remove(path_, ignored);
}

void PartFile::move_to(const fs::path& final_path) {
  std::error_code error;
  fs::rename(path_, final_path, error);
  if (error) fail(final_path.string(), "cannot move the download into place: {}", error.message());
  path_.clear();
}

std::string problem_with(const fs::path& path, const std::string& error_text) {
  const std::string prefix = path.string() + ": ";
  return error_text.rfind(prefix, 0) == 0 ? error_text.substr(prefix.size()) : error_text;
}

void remove_abandoned_parts(const fs::path& folder) {
  std::error_code error;
  for (const fs::directory_entry& item : fs::directory_iterator(folder, error)) {
    std::string name = item.path().filename().string();
    size_t infix = name.rfind(kPartInfix);
    if (infix == std::string::npos) continue;
    pid_t owner = static_cast<pid_t>(std::atol(name.c_str() + infix + std::char_traits<char>::length(kPartInfix)));
    std::error_code ignored;
    if (owner <= 0 || !is_running(owner)) fs::remove(item.path(), ignored);
  }
}

}  // namespace distrvit::detail
