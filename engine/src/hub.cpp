#include "distrvit/hub.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "distrvit/error.h"
#include "distrvit/safetensors.h"
#include "cache_files.h"
#include "http_download.h"

namespace distrvit {
namespace fs = std::filesystem;
namespace {

constexpr const char* kDefaultEndpoint = "https://huggingface.co";
constexpr const char* kRevision = "main";
constexpr const char* kTimmHubPrefix = "hf-hub:";
constexpr const char* kDefaultModelFolder = "vit_tiny_patch16_224.augreg_in21k_ft_in1k";

using detail::environment_variable;

bool path_exists(const std::string& path) {
  std::error_code ignored;
  return !path.empty() && fs::exists(path, ignored);
}

// ---- hub ids ------------------------------------------------------------------------------------

struct HubId {
  std::string org;
  std::string name;

  std::string text() const { return org + "/" + name; }
  std::string cache_folder() const { return org + "--" + name; }
};

// Hub naming rules: [A-Za-z0-9._-], no leading '.' or '-', no "--" or "..". Besides matching the hub,
// this keeps "../x" out of cache paths and makes <org>--<name> unambiguous.
bool is_valid_id_part(const std::string& part) {
  if (part.empty() || part.front() == '.' || part.front() == '-') return false;
  if (part.find("--") != std::string::npos || part.find("..") != std::string::npos) return false;
  return std::all_of(part.begin(), part.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::optional<HubId> parse_hub_id(std::string spec) {
  if (spec.rfind(kTimmHubPrefix, 0) == 0) spec = spec.substr(std::char_traits<char>::length(kTimmHubPrefix));
  size_t slash = spec.find('/');
  if (slash == std::string::npos || spec.find('/', slash + 1) != std::string::npos) return std::nullopt;
  HubId id{spec.substr(0, slash), spec.substr(slash + 1)};
  if (!is_valid_id_part(id.org) || !is_valid_id_part(id.name)) return std::nullopt;
  return id;
}

// ---- the files of a model repository ------------------------------------------------------------

enum class Content { Json, Safetensors };

struct RepoFile {
  const char* name;
  bool optional;  // a 404 just means the repository has none
  Content content;
};

// model.safetensors comes last: its presence marks a complete cache entry.
constexpr RepoFile kRepoFiles[] = {
    {"config.json", false, Content::Json},
    {"preprocessor_config.json", true, Content::Json},
    {"model.safetensors", false, Content::Safetensors},
};
constexpr const char* kCompletionMarker = "model.safetensors";

bool is_complete(const fs::path& entry) {
  std::error_code ignored;
  return fs::is_regular_file(entry / "config.json", ignored) && fs::is_regular_file(entry / kCompletionMarker, ignored);
}

std::string endpoint_of(const HubOptions& options) {
  std::string endpoint = options.endpoint;
  if (endpoint.empty()) endpoint = environment_variable("HF_ENDPOINT");
  if (endpoint.empty()) endpoint = kDefaultEndpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

std::string file_url(const std::string& endpoint, const HubId& id, const RepoFile& file) {
  return endpoint + "/" + id.text() + "/resolve/" + kRevision + "/" + file.name;
}

// ---- checking what arrived ----------------------------------------------------------------------

void check_json(const fs::path& path) {
  std::ifstream stream(path);
  if (!stream) throw detail::DownloadFailure("cannot reopen " + path.string(), 0);
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(stream);
  } catch (const nlohmann::json::exception& e) {
    throw detail::DownloadFailure(std::string("not valid JSON: ") + e.what(), 0);
  }
  if (!document.is_object()) throw detail::DownloadFailure("not a JSON object", 0);
}

void check_safetensors(const fs::path& path) {
  try {
    SafetensorsFile file(path.string());
  } catch (const std::exception& e) {
    throw detail::DownloadFailure("not a valid safetensors file: " + detail::problem_with(path, e.what()), 0);
  }
}

void check_content(const RepoFile& file, const fs::path& path) {
  if (file.content == Content::Json) check_json(path);
  if (file.content == Content::Safetensors) check_safetensors(path);
}

// ---- writing into the cache ---------------------------------------------------------------------

// Downloads one file into `entry`; returns false when an optional file does not exist upstream.
bool fetch_file(const HubId& id, const RepoFile& file, const fs::path& entry, const HubOptions& options) {
  std::string url = file_url(endpoint_of(options), id, file);
  detail::PartFile part(entry, file.name);
  detail::DownloadProgress progress;
  if (options.progress)
    progress = [&](size_t done, size_t total) { options.progress(file.name, done, total); };
  try {
    detail::download_to_file(url, part.path().string(), progress);
    check_content(file, part.path());
  } catch (const detail::DownloadFailure& failure) {
    if (file.optional && failure.http_status == 404) return false;
    fail(id.text(), "download of {} failed: {}", file.name, failure.what());
  }
  part.move_to(entry / file.name);
  return true;
}

// After a failed download: take back what this attempt put in place, unless another process finished the entry.
void discard_incomplete_entry(const fs::path& entry, const std::vector<fs::path>& placed) {
  std::error_code ignored;
  if (fs::exists(entry / kCompletionMarker, ignored)) return;
  for (const fs::path& path : placed) fs::remove(path, ignored);
  fs::remove(entry, ignored);  // only succeeds when empty
}

void download_entry(const HubId& id, const fs::path& entry, const HubOptions& options) {
  std::error_code error;
  fs::create_directories(entry, error);
  if (error) fail(entry.string(), "cannot create the cache folder: {}", error.message());
  detail::remove_abandoned_parts(entry);
  std::vector<fs::path> placed;
  try {
    for (const RepoFile& file : kRepoFiles)
      if (fetch_file(id, file, entry, options)) placed.push_back(entry / file.name);
  } catch (...) {
    discard_incomplete_entry(entry, placed);
    throw;
  }
}

}  // namespace

std::string default_cache_dir() {
  if (std::string dir = environment_variable("DISTRVIT_CACHE"); !dir.empty()) return dir;
  if (std::string xdg = environment_variable("XDG_CACHE_HOME"); !xdg.empty())
    return (fs::path(xdg) / "distrvit").string();
  if (std::string home = environment_variable("HOME"); !home.empty())
    return (fs::path(home) / ".cache" / "distrvit").string();
  throw Error("model cache: none of DISTRVIT_CACHE, XDG_CACHE_HOME, HOME is set");
}

bool looks_like_hub_id(const std::string& spec) { return !path_exists(spec) && parse_hub_id(spec).has_value(); }

std::string resolve_model(const std::string& spec, const HubOptions& options) {
  if (path_exists(spec)) return spec;
  std::optional<HubId> id = parse_hub_id(spec);
  if (!id) fail(spec, "no such file or folder");

  fs::path entry = detail::cache_root(options) / id->cache_folder();
  if (is_complete(entry)) return entry.string();
  if (detail::downloads_disabled(options)) fail(id->text(), "not in cache {} and offline", entry.string());
  download_entry(*id, entry, options);
  return entry.string();
}

std::string default_model_spec() {
  std::vector<fs::path> model_folders;
#ifdef DISTRVIT_SOURCE_DIR
  model_folders.push_back(fs::path(DISTRVIT_SOURCE_DIR) / ".." / "shared" / "models");
#endif
  model_folders.push_back(fs::path("..") / "shared" / "models");
  for (const fs::path& folder : model_folders) {
    std::error_code ignored;
    fs::path model = folder / kDefaultModelFolder;
    if (fs::is_directory(model, ignored)) return model.lexically_normal().string();
  }
  return kDefaultHubId;
}

}  // namespace distrvit
