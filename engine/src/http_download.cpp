#include "http_download.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>

namespace distrvit::detail {
namespace {

constexpr long kConnectTimeoutSeconds = 30;
constexpr long kLowSpeedBytesPerSecond = 1024;  // abort when slower than this ...
constexpr long kLowSpeedSeconds = 60;           // ... for this long
constexpr long kMaxRedirects = 10;
constexpr const char* kUserAgent = "distrvit/0.1 (libcurl)";

// ---- SHA-256 ----------------------------------------------------------------------------------

class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1)
      throw DownloadFailure("OpenSSL cannot start a SHA-256 digest", 0);
  }
  void update(const void* bytes, size_t size) {
    if (EVP_DigestUpdate(context_.get(), bytes, size) != 1) throw DownloadFailure("OpenSSL SHA-256 update failed", 0);
  }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    if (EVP_DigestFinal_ex(context_.get(), digest, &digest_size) != 1)
      throw DownloadFailure("OpenSSL SHA-256 final failed", 0);
    std::string text;
    for (unsigned int i = 0; i < digest_size; ++i) text += fmt::format("{:02x}", digest[i]);
    return text;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context_;
};

// ---- response headers ---------------------------------------------------------------------------

std::string trim(const std::string& text) {
  const char* space = " \t\r\n";
  size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool is_sha256_hex(const std::string& text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

// `"<64 hex>"` -> the lower-case hex; anything else (weak tags, git sha1s, md5s) -> "".
std::string sha256_from_etag(const std::string& header_value) {
  std::string tag = trim(header_value);
  if (tag.rfind("W/", 0) == 0) return "";  // a weak tag promises nothing about the bytes
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') tag = tag.substr(1, tag.size() - 2);
  return is_sha256_hex(tag) ? lower(tag) : "";
}

// Headers of every response along the redirect chain: the hub answers the first request with a redirect
// that carries the LFS sha256 in X-Linked-Etag; the CDN's own ETag at the end is usually an MD5.
struct ChainHeaders {
  std::string linked_etag_sha256;
  std::string etag_sha256;

  void add(const std::string& line) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) return;
    std::string name = lower(trim(line.substr(0, colon)));
    std::string sha256 = sha256_from_etag(line.substr(colon + 1));
    if (sha256.empty()) return;
    if (name == "x-linked-etag" && linked_etag_sha256.empty()) linked_etag_sha256 = sha256;
    if (name == "etag" && etag_sha256.empty()) etag_sha256 = sha256;
  }
  std::string expected_sha256() const { return linked_etag_sha256.empty() ? etag_sha256 : linked_etag_sha256; }
};

// ---- the output file ----------------------------------------------------------------------------

class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "wb")) {
    if (!file_) throw DownloadFailure(fmt::format("cannot create {}: {}", path, std::strerror(errno)), 0);
  }
  ~OutputFile() {
    if (file_) std::fclose(file_);
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  bool write(const char* bytes, size_t size) { return std::fwrite(bytes, 1, size, file_) == size; }

  // Flushes to disk so that a rename after a crash never exposes a file with missing bytes.
  void close() {
    FILE* file = file_;
    file_ = nullptr;
    bool flushed = std::fflush(file) == 0 && ::fsync(fileno(file)) == 0;
    int flush_errno = errno;
    bool closed = std::fclose(file) == 0;
    if (!flushed || !closed)
      throw DownloadFailure(fmt::format("cannot write {}: {}", path_, std::strerror(flushed ? errno : flush_errno)), 0);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FILE* file_;
};

// ---- one transfer -------------------------------------------------------------------------------

// What the libcurl callbacks share. They must not throw through C code: errors are parked in `error`.
struct Transfer {
  CURL* curl = nullptr;
  OutputFile* output = nullptr;
  Sha256* digest = nullptr;
  const DownloadProgress* progress = nullptr;
  ChainHeaders headers;
  size_t bytes_written = 0;
  size_t reported_done = SIZE_MAX;
  size_t reported_total = SIZE_MAX;
  std::exception_ptr error;
};

size_t on_body(char* bytes, size_t, size_t size, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  try {
    if (!transfer->output->write(bytes, size))
      throw DownloadFailure(fmt::format("cannot write {}: {}", transfer->output->path(), std::strerror(errno)), 0);
    transfer->digest->update(bytes, size);
    transfer->bytes_written += size;
    return size;
  } catch (...) {
    transfer->error = std::current_exception();
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
}

size_t on_header(char* bytes, size_t, size_t size, void* user) {
  static_cast<Transfer*>(user)->headers.add(std::string(bytes, size));
  return size;
}

void report_progress(Transfer& transfer, size_t done, size_t total) {
  if (!*transfer.progress || (done == transfer.reported_done && total == transfer.reported_total)) return;
  transfer.reported_done = done;
  transfer.reported_total = total;
  (*transfer.progress)(done, total);
}

// Whether the response being received is the file itself (not a redirect or an error page).
bool receiving_body(CURL* curl) {
  long http_status = 0;
  return curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status) == CURLE_OK && http_status >= 200 &&
         http_status < 300;
}

int on_progress(void* user, curl_off_t download_total, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  try {
    if (!receiving_body(transfer->curl)) return 0;
    report_progress(*transfer, transfer->bytes_written, download_total > 0 ? static_cast<size_t>(download_total) : 0);
    return 0;
  } catch (...) {
    transfer->error = std::current_exception();
    return 1;  // makes libcurl stop with CURLE_ABORTED_BY_CALLBACK
  }
}

// ---- libcurl plumbing ---------------------------------------------------------------------------

void initialize_curl_once() {
  static const CURLcode status = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (status != CURLE_OK)
    throw DownloadFailure(fmt::format("libcurl initialization failed: {}", curl_easy_strerror(status)), 0);
}

using CurlHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

template <typename Value>
void set_option(CURL* curl, CURLoption option, Value value) {
  CURLcode status = curl_easy_setopt(curl, option, value);
  if (status != CURLE_OK)
    throw DownloadFailure(fmt::format("libcurl option {} refused: {}", static_cast<int>(option),
                                      curl_easy_strerror(status)), 0);
}

template <typename Value>
Value get_info(CURL* curl, CURLINFO info) {
  Value value{};
  CURLcode status = curl_easy_getinfo(curl, info, &value);
  if (status != CURLE_OK)
    throw DownloadFailure(fmt::format("libcurl info {} unavailable: {}", static_cast<int>(info),
                                      curl_easy_strerror(status)), 0);
  return value;
}

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

void restrict_protocols(CURL* curl, const std::string& url) {
  // An https download never follows a redirect down to plain http.
  bool secure = starts_with(url, "https://");
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85: string forms; the bitmask forms are deprecated there
  set_option(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  set_option(curl, CURLOPT_REDIR_PROTOCOLS_STR, secure ? "https" : "http,https");
#else
  set_option(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  set_option(curl, CURLOPT_REDIR_PROTOCOLS, secure ? static_cast<long>(CURLPROTO_HTTPS)
                                                   : static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

void configure(CURL* curl, const std::string& url, Transfer& transfer, char* error_text) {
  set_option(curl, CURLOPT_ERRORBUFFER, error_text);
  set_option(curl, CURLOPT_URL, url.c_str());
  restrict_protocols(curl, url);
  set_option(curl, CURLOPT_FOLLOWLOCATION, 1L);
  set_option(curl, CURLOPT_MAXREDIRS, kMaxRedirects);
  set_option(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  set_option(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  set_option(curl, CURLOPT_FAILONERROR, 1L);  // HTTP >= 400: no body written, CURLE_HTTP_RETURNED_ERROR
  set_option(curl, CURLOPT_NOSIGNAL, 1L);
  set_option(curl, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  set_option(curl, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytesPerSecond);
  set_option(curl, CURLOPT_LOW_SPEED_TIME, kLowSpeedSeconds);
  set_option(curl, CURLOPT_USERAGENT, kUserAgent);
  set_option(curl, CURLOPT_WRITEFUNCTION, &on_body);
  set_option(curl, CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
  set_option(curl, CURLOPT_HEADERFUNCTION, &on_header);
  set_option(curl, CURLOPT_HEADERDATA, static_cast<void*>(&transfer));
  set_option(curl, CURLOPT_XFERINFOFUNCTION, &on_progress);
  set_option(curl, CURLOPT_XFERINFODATA, static_cast<void*>(&transfer));
  set_option(curl, CURLOPT_NOPROGRESS, 0L);
}

void check_transfer_status(CURL* curl, CURLcode status, const Transfer& transfer, const std::string& url,
                           const char* error_text) {
  if (transfer.error) std::rethrow_exception(transfer.error);
  if (status == CURLE_HTTP_RETURNED_ERROR) {
    long http_status = get_info<long>(curl, CURLINFO_RESPONSE_CODE);
    throw DownloadFailure(fmt::format("HTTP {} from {}", http_status, url), http_status);
  }
  if (status != CURLE_OK) {
    std::string why = error_text[0] != '\0' ? error_text : curl_easy_strerror(status);
    throw DownloadFailure(fmt::format("{} ({})", why, url), 0);
  }
  long http_status = get_info<long>(curl, CURLINFO_RESPONSE_CODE);
  if (http_status < 200 || http_status >= 300)
    throw DownloadFailure(fmt::format("HTTP {} from {}", http_status, url), http_status);
}

void check_length(CURL* curl, const Transfer& transfer, const std::string& url) {
  auto announced = get_info<curl_off_t>(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T);  // -1: no Content-Length
  if (announced >= 0 && static_cast<size_t>(announced) != transfer.bytes_written)
    throw DownloadFailure(fmt::format("received {} bytes but Content-Length is {} ({})", transfer.bytes_written,
                                      static_cast<long long>(announced), url), 0);
}

void check_sha256(const std::string& expected, const std::string& actual, const std::string& url) {
  if (expected != actual)
    throw DownloadFailure(fmt::format("SHA-256 mismatch: server says {}, received bytes have {} ({})", expected,
                                      actual, url), 0);
}

}  // namespace

DownloadedFile download_to_file(const std::string& url, const std::string& path, const DownloadProgress& progress) {
  initialize_curl_once();
  CurlHandle curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw DownloadFailure("libcurl cannot create a handle", 0);

  OutputFile output(path);
  Sha256 digest;
  Transfer transfer;
  transfer.curl = curl.get();
  transfer.output = &output;
  transfer.digest = &digest;
  transfer.progress = &progress;
  char error_text[CURL_ERROR_SIZE] = {};
  configure(curl.get(), url, transfer, error_text);

  CURLcode status = curl_easy_perform(curl.get());
  check_transfer_status(curl.get(), status, transfer, url, error_text);
  check_length(curl.get(), transfer, url);
  output.close();

  DownloadedFile result;
  result.bytes = transfer.bytes_written;
  std::string expected_sha256 = transfer.headers.expected_sha256();
  if (!expected_sha256.empty()) {
    check_sha256(expected_sha256, digest.hex(), url);
    result.sha256_verified = true;
  }
  report_progress(transfer, result.bytes, result.bytes);
  return result;
}

std::string sha256_hex(const std::string& bytes) {
  Sha256 digest;
  digest.update(bytes.data(), bytes.size());
  return digest.hex();
}

}  // namespace distrvit::detail
