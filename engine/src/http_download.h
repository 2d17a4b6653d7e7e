// Internal: one HTTP(S) GET into a local file with libcurl, checked for size and, where the server
// names one, SHA-256. Used by hub.cpp and image_url.cpp; not part of the public interface.
#pragma once
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

namespace distrvit::detail {

// Why a download failed, in words ("HTTP 404 from <url>"), plus the HTTP status when there was one.
class DownloadFailure : public std::runtime_error {
 public:
  DownloadFailure(const std::string& problem, long http_status_code)
      : std::runtime_error(problem), http_status(http_status_code) {}
  long http_status;  // 0 when the failure was not an HTTP error status
};

using DownloadProgress = std::function<void(size_t done, size_t total)>;  // total 0 when unknown

struct DownloadedFile {
  size_t bytes = 0;
  bool sha256_verified = false;  // the server named a SHA-256 (X-Linked-Etag / ETag) and it matched
};

// GETs `url` (following redirects, HTTPS certificates verified) into `path`, created or truncated.
// Throws DownloadFailure for HTTP >= 400, network errors, a Content-Length or SHA-256 mismatch and
// local write errors. `path` may hold partial data afterwards: the caller removes it.
DownloadedFile download_to_file(const std::string& url, const std::string& path, const DownloadProgress& progress);

// Lower-case hex SHA-256 of `bytes` (OpenSSL).
std::string sha256_hex(const std::string& bytes);

}  // namespace distrvit::detail
