#include "distrvit/image_url.h"

#include <cctype>
#include <filesystem>
#include <system_error>

#include "cache_files.h"
#include "distrvit/error.h"
#include "distrvit/image.h"
#include "http_download.h"

namespace distrvit {
namespace fs = std::filesystem;
namespace {

constexpr size_t kUrlHashDigits = 16;
constexpr size_t kMaxFileNameLength = 100;

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

// The last segment of the URL's path, query and fragment dropped, reduced to [A-Za-z0-9._-]; "image" when that
// leaves nothing usable.
std::string file_name_of(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const size_t scheme_end = path.find("://");
  const size_t path_start = path.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  path = path_start == std::string::npos ? "" : path.substr(path_start);
  std::string name = path.substr(path.find_last_of('/') + 1);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  if (name.size() > kMaxFileNameLength) name = name.substr(name.size() - kMaxFileNameLength);
  if (name.empty() || name.front() == '.') name = "image" + name;
  return name;
}

// Into part_path, then checked by decoding it.
void download_and_check(const std::string& url, const fs::path& part_path) {
  try {
    detail::download_to_file(url, part_path.string(), {});
  } catch (const detail::DownloadFailure& failure) {
    fail(url, "download failed: {}", failure.what());
  }
  try {
    decode_image_file(part_path.string());
  } catch (const Error& e) {
    fail(url, "downloaded, but {}", detail::problem_with(part_path, e.what()));
  }
}

void download_image(const std::string& url, const fs::path& folder, const fs::path& final_path) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) fail(folder.string(), "cannot create the cache folder: {}", error.message());
  detail::remove_abandoned_parts(folder);
  try {
    detail::PartFile part(folder, final_path.filename().string());
    download_and_check(url, part.path());
    part.move_to(final_path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(folder, ignored);  // only succeeds when empty
    throw;
  }
}

}  // namespace

bool is_image_url(const std::string& spec) { return starts_with(spec, "http://") || starts_with(spec, "https://"); }

std::string resolve_image_url(const std::string& url, const HubOptions& options) {
  if (!is_image_url(url)) fail(url, "not an http:// or https:// URL");
  const fs::path folder =
      detail::cache_root(options) / "images" / detail::sha256_hex(url).substr(0, kUrlHashDigits);
  const fs::path path = folder / file_name_of(url);
  std::error_code ignored;
  if (fs::is_regular_file(path, ignored)) return path.string();
  if (detail::downloads_disabled(options)) fail(url, "not in cache {} and offline", path.string());
  download_image(url, folder, path);
  return path.string();
}

}  // namespace distrvit
