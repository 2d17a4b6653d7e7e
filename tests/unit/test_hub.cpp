// Hub ids and the model cache, and image URLs, against a local HTTP server (python3 http.server) on 127.0.0.1.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "distrvit/error.h"
#include "distrvit/hub.h"
#include "distrvit/image_url.h"
#include "test_util.h"

namespace fs = std::filesystem;
using distrvit::HubOptions;
using distrvit::test::TempDir;

namespace {

constexpr const char* kId = "org/vit_tiny";

// Serves <root> like the hub. Sidecar files change what a path gets:
//   <path>.redirect  302 to the URL inside it     <path>.headers  extra "Name: value" lines
//   <path>.cut       only the first N bytes of the body, after the full Content-Length
// Every request path is appended to <log>; the bound port is written to <port file> once listening.
constexpr const char* kServerScript = R"PY(
import functools, http.server, os, sys
root, port_file, log_file = sys.argv[1:4]

class Handler(http.server.SimpleHTTPRequestHandler):
    def sidecar(self, suffix):
        path = self.translate_path(self.path) + suffix
        if not os.path.isfile(path):
            return None
        with open(path) as f:
            return f.read().strip()

    def do_GET(self):
        with open(log_file, "a") as log:
            log.write(self.path + "\n")
        location = self.sidecar(".redirect")
        if location is None:
            return super().do_GET()
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def end_headers(self):
        for line in (self.sidecar(".headers") or "").splitlines():
            name, _, value = line.partition(":")
            self.send_header(name.strip(), value.strip())
        super().end_headers()

    def copyfile(self, source, destination):
        cut = self.sidecar(".cut")
        if cut is None:
            return super().copyfile(source, destination)
        destination.write(source.read(int(cut)))

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
)PY";

// A system interpreter first: version-manager shims (pyenv) take seconds to start on a busy machine.
constexpr const char* kPythonCandidates[] = {"/usr/bin/python3", "/usr/local/bin/python3", "python3"};

std::string read_text(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(stream), {});
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<fs::path> regular_files_under(const fs::path& folder) {
  std::vector<fs::path> files;
  if (!fs::exists(folder)) return files;
  for (const auto& item : fs::recursive_directory_iterator(folder))
    if (item.is_regular_file()) files.push_back(item.path());
  return files;
}

std::string sha256_hex(const fs::path& path) {
  std::string command = "sha256sum '" + path.string() + "'";
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), &pclose);
  REQUIRE(pipe);
  char hex[65] = {};
  REQUIRE(std::fread(hex, 1, 64, pipe.get()) == 64);
  return hex;
}

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_.c_str(), old_->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& folder) : old_(fs::current_path()) { fs::current_path(folder); }
  ~ScopedCwd() {
    std::error_code ignored;
    fs::current_path(old_, ignored);
  }
  ScopedCwd(const ScopedCwd&) = delete;
  ScopedCwd& operator=(const ScopedCwd&) = delete;

 private:
  fs::path old_;
};

// The python server as a child process; killed when this object dies (or the test process does).
class LocalServer {
 public:
  explicit LocalServer(const fs::path& root) : port_file_(state_ / "port"), log_file_(state_ / "requests.log") {
    std::string root_text = root.string(), port_text = port_file_.string(), log_text = log_file_.string();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (const char* python : kPythonCandidates)
        execlp(python, python, "-c", kServerScript, root_text.c_str(), port_text.c_str(), log_text.c_str(),
               static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid_ < 0 || !wait_until_listening()) {
      stop();
      throw std::runtime_error("the local test HTTP server (python3 -m http.server) did not start");
    }
  }
  ~LocalServer() { stop(); }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string endpoint() const { return "http://127.0.0.1:" + port_; }
  size_t request_count() const {
    std::string log = read_text(log_file_);
    return static_cast<size_t>(std::count(log.begin(), log.end(), '\n'));
  }
  bool was_requested(const std::string& path) const {
    return read_text(log_file_).find(path + "\n") != std::string::npos;
  }

 private:
  // The server binds and listens before it writes the port file, so the port answers once the file is there.
  bool wait_until_listening() {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      port_ = read_text(port_file_);
      if (!port_.empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  TempDir state_;
  fs::path port_file_;
  fs::path log_file_;
  pid_t pid_ = -1;
  std::string port_;
};

// A served repository tree, an empty cache, and an environment where nothing outside the test leaks in.
struct LocalHub {
  TempDir served;
  TempDir cache;
  ScopedEnv no_proxy{"no_proxy", "127.0.0.1"};
  ScopedEnv no_proxy_upper{"NO_PROXY", "127.0.0.1"};
  ScopedEnv online{"DISTRVIT_OFFLINE", nullptr};

  fs::path repo_file(const std::string& name, const std::string& id = kId) const {
    return served.path() / id / "resolve" / "main" / name;
  }
  fs::path entry(const std::string& id = kId) const {
    std::string folder = id;
    folder.replace(folder.find('/'), 1, "--");
    return cache.path() / folder;
  }
  fs::path golden(const std::string& name) const { return distrvit::test::golden_dir("vit_tiny_patch16_224") / name; }

  void serve_golden(const std::string& name, const std::string& id = kId) {
    fs::create_directories(repo_file(name, id).parent_path());
    fs::copy_file(golden(name), repo_file(name, id));
  }
  void serve_golden_model(const std::string& id = kId) {
    serve_golden("config.json", id);
    serve_golden("model.safetensors", id);
  }
  HubOptions options(const LocalServer& server) const {
    HubOptions settings;
    settings.cache_dir = cache.path().string();
    settings.endpoint = server.endpoint();
    return settings;
  }
  std::string url(const LocalServer& server, const std::string& name, const std::string& id = kId) const {
    return server.endpoint() + "/" + id + "/resolve/main/" + name;
  }
};

// The message of the distrvit::Error that call() throws, or "(no error)".
template <typename Call>
std::string error_text(const Call& call) {
  try {
    call();
  } catch (const distrvit::Error& error) {
    return error.what();
  }
  return "(no error)";
}

std::string error_of(const std::string& spec, const HubOptions& options) {
  return error_text([&] { distrvit::resolve_model(spec, options); });
}

}  // namespace

TEST_CASE("hub: default_cache_dir follows DISTRVIT_CACHE, then XDG_CACHE_HOME, then HOME") {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv cache("DISTRVIT_CACHE", "/explicit/cache");
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    CHECK(distrvit::default_cache_dir() == "/explicit/cache");
  }
  {
    ScopedEnv cache("DISTRVIT_CACHE", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    CHECK(distrvit::default_cache_dir() == "/xdg/distrvit");
  }
  {
    ScopedEnv cache("DISTRVIT_CACHE", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", "");
    CHECK(distrvit::default_cache_dir() == "/home/someone/.cache/distrvit");
  }
}

TEST_CASE("hub: looks_like_hub_id accepts org/name ids that are not paths") {
  CHECK(distrvit::looks_like_hub_id(distrvit::kDefaultHubId));
  CHECK(distrvit::looks_like_hub_id("google/vit-base-patch16-224"));
  CHECK(distrvit::looks_like_hub_id("hf-hub:timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k"));
  for (const char* not_an_id : {"", "vit_tiny", "a/b/c", "/abs/model", "org/", "/name", "org/na me", "../name",
                                "org/..", "a--b/c", "hf-hub:", "hf-hub:name", "org\\name", "org/name?x"})
    CHECK_MESSAGE(!distrvit::looks_like_hub_id(not_an_id), not_an_id);

  TempDir folder;
  fs::create_directories(folder / "org" / "name");
  ScopedCwd inside(folder.path());
  CHECK(!distrvit::looks_like_hub_id("org/name"));
  CHECK(distrvit::looks_like_hub_id("org/other"));
}

TEST_CASE("hub: resolve_model returns existing files and folders as they are") {
  fs::path golden = distrvit::test::golden_dir("vit_tiny_patch16_224");
  HubOptions offline;
  offline.offline = true;
  CHECK(distrvit::resolve_model(golden.string(), offline) == golden.string());
  CHECK(distrvit::resolve_model((golden / "model.safetensors").string(), offline) ==
        (golden / "model.safetensors").string());

  TempDir folder;
  fs::create_directories(folder / "org" / "name");
  ScopedCwd inside(folder.path());
  CHECK(distrvit::resolve_model("org/name", offline) == "org/name");
}

TEST_CASE("hub: resolve_model rejects a spec that is neither a path nor a hub id") {
  CHECK(error_of("no_such_model.safetensors", {}) == "no_such_model.safetensors: no such file or folder");
  CHECK(error_of("a/b/c", {}) == "a/b/c: no such file or folder");
}

TEST_CASE("hub: offline resolve of a missing entry names the cache folder") {
  TempDir cache;
  HubOptions options;
  options.cache_dir = cache.path().string();
  options.endpoint = "http://127.0.0.1:1";  // would be refused, were it contacted
  std::string expected = std::string(kId) + ": not in cache " + (cache / "org--vit_tiny").string() + " and offline";
  {
    HubOptions offline = options;
    offline.offline = true;
    CHECK(error_of(kId, offline) == expected);
  }
  {
    ScopedEnv env("DISTRVIT_OFFLINE", "1");
    CHECK(error_of(std::string("hf-hub:") + kId, options) == expected);
  }
  CHECK(regular_files_under(cache.path()).empty());
}

TEST_CASE("hub: default_model_spec prefers the shared model folder") {
  std::string spec = distrvit::default_model_spec();
  fs::path shared_model = fs::path(DISTRVIT_SOURCE_DIR) / ".." / "shared" / "models" /
                          "vit_tiny_patch16_224.augreg_in21k_ft_in1k";
  if (fs::is_directory(shared_model))
    CHECK(fs::equivalent(spec, shared_model));
  else
    CHECK(spec == distrvit::kDefaultHubId);
}

TEST_CASE("hub: download fills the cache with identical files, then resolves with no network") {
  LocalHub hub;
  hub.serve_golden_model();
  LocalServer server(hub.served.path());
  HubOptions options = hub.options(server);
  std::vector<std::string> progress_files;
  size_t model_done = 0, model_total = 0;
  options.progress = [&](const std::string& file, size_t done, size_t total) {
    if (progress_files.empty() || progress_files.back() != file) progress_files.push_back(file);
    if (file != "model.safetensors") return;
    model_done = done;
    model_total = total;
  };

  std::string folder = distrvit::resolve_model(kId, options);
  CHECK(fs::path(folder) == hub.entry());
  CHECK(read_text(hub.entry() / "config.json") == read_text(hub.golden("config.json")));
  CHECK(read_text(hub.entry() / "model.safetensors") == read_text(hub.golden("model.safetensors")));
  CHECK(!fs::exists(hub.entry() / "preprocessor_config.json"));
  CHECK(server.was_requested("/org/vit_tiny/resolve/main/preprocessor_config.json"));
  CHECK(regular_files_under(hub.entry()).size() == 2);  // no part files left
  CHECK(progress_files == std::vector<std::string>{"config.json", "model.safetensors"});
  CHECK(model_total == fs::file_size(hub.golden("model.safetensors")));
  CHECK(model_done == model_total);

  size_t requests = server.request_count();
  CHECK(distrvit::resolve_model(kId, options) == folder);
  CHECK(server.request_count() == requests);
  server.stop();
  CHECK(distrvit::resolve_model(kId, options) == folder);
  CHECK(distrvit::resolve_model(std::string("hf-hub:") + kId, options) == folder);
  HubOptions offline = options;
  offline.offline = true;
  CHECK(distrvit::resolve_model(kId, offline) == folder);
}

TEST_CASE("hub: preprocessor_config.json is cached when the repository has one") {
  LocalHub hub;
  hub.serve_golden_model();
  write_text(hub.repo_file("preprocessor_config.json"), R"({"image_mean": [0.5, 0.5, 0.5]})");
  LocalServer server(hub.served.path());
  distrvit::resolve_model(kId, hub.options(server));
  CHECK(read_text(hub.entry() / "preprocessor_config.json") == read_text(hub.repo_file("preprocessor_config.json")));
}

TEST_CASE("hub: HTTP 404 names the file, status and URL and leaves no files") {
  LocalHub hub;
  const std::string no_model = "org/no_model", no_repo = "org/no_repo";
  hub.serve_golden("config.json", no_model);
  LocalServer server(hub.served.path());
  CHECK(error_of(no_model, hub.options(server)) == no_model + ": download of model.safetensors failed: HTTP 404 from " +
                                                       hub.url(server, "model.safetensors", no_model));
  CHECK(error_of(no_repo, hub.options(server)) ==
        no_repo + ": download of config.json failed: HTTP 404 from " + hub.url(server, "config.json", no_repo));
  CHECK(regular_files_under(hub.cache.path()).empty());
  CHECK(!fs::exists(hub.entry(no_model)));
}

TEST_CASE("hub: a truncated model.safetensors is rejected and leaves no cache entry") {
  LocalHub hub;
  hub.serve_golden("config.json");
  std::string model = read_text(hub.golden("model.safetensors"));
  write_text(hub.repo_file("model.safetensors"), model.substr(0, model.size() / 2));
  LocalServer server(hub.served.path());
  std::string error = error_of(kId, hub.options(server));
  CHECK_MESSAGE(error.rfind(std::string(kId) + ": download of model.safetensors failed: not a valid safetensors file", 0) == 0,
                error);
  CHECK(!fs::exists(hub.entry()));
}

TEST_CASE("hub: a connection that drops before Content-Length bytes is rejected") {
  LocalHub hub;
  hub.serve_golden_model();
  write_text(hub.repo_file("model.safetensors.cut"), "1000000");
  LocalServer server(hub.served.path());
  std::string error = error_of(kId, hub.options(server));
  CHECK_MESSAGE(error.rfind(std::string(kId) + ": download of model.safetensors failed: ", 0) == 0, error);
  CHECK(!fs::exists(hub.entry()));
}

TEST_CASE("hub: config.json that is not JSON is rejected") {
  LocalHub hub;
  hub.serve_golden("model.safetensors");
  write_text(hub.repo_file("config.json"), "<html>Sign in</html>");
  LocalServer server(hub.served.path());
  std::string error = error_of(kId, hub.options(server));
  CHECK_MESSAGE(error.rfind(std::string(kId) + ": download of config.json failed: not valid JSON", 0) == 0, error);
  CHECK(!fs::exists(hub.entry()));
}

TEST_CASE("hub: the SHA-256 from X-Linked-Etag on a redirect is verified") {
  LocalHub hub;
  // Like the hub: resolve/main/model.safetensors answers 302 to a blob store, naming the LFS sha256.
  fs::path blob = hub.served / "blobs" / "model.safetensors";
  fs::create_directories(blob.parent_path());
  fs::copy_file(hub.golden("model.safetensors"), blob);
  write_text(blob.string() + ".headers", "ETag: \"0123456789abcdef0123456789abcdef\"");  // an MD5: not checked
  const std::string matching = "org/matching", mismatching = "org/mismatching";
  for (const std::string& id : {matching, mismatching}) {
    hub.serve_golden("config.json", id);
    write_text(hub.repo_file("model.safetensors.redirect", id), "/blobs/model.safetensors");
  }
  write_text(hub.repo_file("model.safetensors.headers", matching), "X-Linked-Etag: \"" + sha256_hex(blob) + "\"");
  write_text(hub.repo_file("model.safetensors.headers", mismatching), "X-Linked-Etag: \"" + std::string(64, 'a') + "\"");
  LocalServer server(hub.served.path());

  distrvit::resolve_model(matching, hub.options(server));
  CHECK(read_text(hub.entry(matching) / "model.safetensors") == read_text(blob));
  CHECK(server.was_requested("/blobs/model.safetensors"));

  std::string error = error_of(mismatching, hub.options(server));
  CHECK_MESSAGE(error.rfind(mismatching + ": download of model.safetensors failed: SHA-256 mismatch", 0) == 0, error);
  CHECK(!fs::exists(hub.entry(mismatching)));
}

TEST_CASE("hub: a sha256 ETag without a redirect is verified too") {
  LocalHub hub;
  hub.serve_golden_model();
  write_text(hub.repo_file("model.safetensors.headers"), "ETag: \"" + std::string(64, '0') + "\"");
  LocalServer server(hub.served.path());
  std::string error = error_of(kId, hub.options(server));
  CHECK_MESSAGE(error.find("SHA-256 mismatch") != std::string::npos, error);
  CHECK(!fs::exists(hub.entry()));
}

// ---- image URLs ---------------------------------------------------------------------------------

namespace {

fs::path sample_image() {
  return distrvit::test::shared_dir() / "data" / "imagenet" / "samples" / "n01440764_tench.JPEG";
}

std::string image_url_error(const std::string& url, const HubOptions& options) {
  return error_text([&] { distrvit::resolve_image_url(url, options); });
}

}  // namespace

TEST_CASE("image URL: http and https only") {
  CHECK(distrvit::is_image_url("http://example.com/cat.jpg"));
  CHECK(distrvit::is_image_url("https://example.com/cat.jpg"));
  for (const char* not_a_url : {"", "cat.jpg", "/tmp/http://x.jpg", "ftp://example.com/cat.jpg", "file:///cat.jpg",
                                "HTTP//example.com"})
    CHECK_MESSAGE(!distrvit::is_image_url(not_a_url), not_a_url);
  CHECK(image_url_error("cat.jpg", {}) == "cat.jpg: not an http:// or https:// URL");
}

TEST_CASE("image URL: downloaded once into the cache, identical, then found offline") {
  LocalHub hub;
  write_text(hub.served.path() / "photos" / "tench.JPEG", read_text(sample_image()));
  LocalServer server(hub.served.path());
  const HubOptions options = hub.options(server);
  const std::string url = server.endpoint() + "/photos/tench.JPEG?size=large#top";

  const fs::path path = distrvit::resolve_image_url(url, options);
  CHECK(path.filename() == "tench.JPEG");
  CHECK(path.parent_path().parent_path() == hub.cache.path() / "images");
  CHECK(read_text(path) == read_text(sample_image()));
  CHECK(regular_files_under(hub.cache.path()).size() == 1);  // no part file left
  CHECK(server.request_count() == 1);

  CHECK(distrvit::resolve_image_url(url, options) == path.string());
  HubOptions offline = options;
  offline.offline = true;
  CHECK(distrvit::resolve_image_url(url, offline) == path.string());
  CHECK(server.request_count() == 1);

  const fs::path other = distrvit::resolve_image_url(server.endpoint() + "/photos/tench.JPEG", options);
  CHECK(other.filename() == "tench.JPEG");
  CHECK(other.parent_path() != path.parent_path());  // another URL, another entry
}

TEST_CASE("image URL: a 404, a dropped connection or a file that is not an image leaves nothing in the cache") {
  LocalHub hub;
  const std::string image = read_text(sample_image());
  write_text(hub.served.path() / "half.jpg", image.substr(0, image.size() / 2));
  write_text(hub.served.path() / "notes.jpg", "these are notes, not a JPEG");
  write_text(hub.served.path() / "cut.jpg", image);
  write_text(hub.served.path() / "cut.jpg.cut", "1000");
  LocalServer server(hub.served.path());
  const HubOptions options = hub.options(server);
  auto url = [&](const std::string& name) { return server.endpoint() + "/" + name; };

  CHECK(image_url_error(url("missing.jpg"), options) ==
        url("missing.jpg") + ": download failed: HTTP 404 from " + url("missing.jpg"));
  for (const char* name : {"half.jpg", "notes.jpg"}) {
    const std::string error = image_url_error(url(name), options);
    CHECK_MESSAGE(error.rfind(url(name) + ": downloaded, but ", 0) == 0, error);
  }
  const std::string error = image_url_error(url("cut.jpg"), options);
  CHECK_MESSAGE(error.rfind(url("cut.jpg") + ": download failed: ", 0) == 0, error);
  CHECK(regular_files_under(hub.cache.path()).empty());
  CHECK((!fs::exists(hub.cache.path() / "images") || fs::is_empty(hub.cache.path() / "images")));
}

TEST_CASE("image URL: offline and not cached names the URL and where it would be, with odd names made safe") {
  TempDir cache;
  HubOptions options;
  options.cache_dir = cache.path().string();
  options.offline = true;
  auto cached_name = [&](const std::string& url) {
    const std::string error = image_url_error(url, options), tail = " and offline";
    REQUIRE_MESSAGE(error.size() > tail.size(), error);
    REQUIRE_MESSAGE(error.rfind(url + ": not in cache " + (cache / "images").string() + "/", 0) == 0, error);
    return fs::path(error.substr(0, error.size() - tail.size())).filename().string();
  };
  CHECK(cached_name("https://example.com/a/b/cat.jpg") == "cat.jpg");
  CHECK(cached_name("https://example.com") == "image");
  CHECK(cached_name("https://example.com/photos/") == "image");
  CHECK(cached_name("https://example.com/.hidden") == "image.hidden");
  CHECK(cached_name("https://example.com/a%20cat;1.png?x=/y") == "a_20cat_1.png");
  CHECK(regular_files_under(cache.path()).empty());
}
