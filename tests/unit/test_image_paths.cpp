// expand_image_paths: what `classify FOLDER` and the image sources read from the paths they are given.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "distrvit/dataset.h"
#include "distrvit/error.h"
#include "test_util.h"

namespace distrvit {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

void touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "x";
}

std::string error_of(const std::vector<std::string>& paths) {
  try {
    expand_image_paths(paths);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_CASE("image paths: folders give their image files, sub-folders included, sorted, and files pass as given") {
  TempDir dir;
  for (const char* name : {"b.jpg", "a.PNG", "sub/c.jpeg", "sub/deeper/d.bmp", "notes.txt", "sub/model.json"})
    touch(dir / name);
  const std::string folder = (dir / "").string();  // a trailing slash is fine
  const std::vector<std::string> files = expand_image_paths({(dir / "b.jpg").string(), dir.path().string()});
  const std::vector<std::string> expected = {(dir / "b.jpg").string(), (dir / "a.PNG").string(),
                                             (dir / "b.jpg").string(), (dir / "sub/c.jpeg").string(),
                                             (dir / "sub/deeper/d.bmp").string()};
  CHECK(files == expected);
  CHECK(expand_image_paths({folder}).size() == 4);
  CHECK(expand_image_paths({(dir / "notes.txt").string()}) == std::vector<std::string>{(dir / "notes.txt").string()});
}

TEST_CASE("image paths: a missing path or a folder without images is an error naming it") {
  TempDir dir;
  touch(dir / "only/readme.md");
  CHECK(error_of({(dir / "none.jpg").string()}) == (dir / "none.jpg").string() + ": no such file or folder");
  CHECK(error_of({(dir / "only").string()}) == (dir / "only").string() + ": folder holds no image files");
  CHECK(error_of({}) == "images: no files given");
}

}  // namespace
}  // namespace distrvit
