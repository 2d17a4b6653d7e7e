// The file dialog's navigation, selection and picking, without ImGui: what its widgets call.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "file_browser.h"
#include "test_util.h"

namespace fs = std::filesystem;
using distrvit::gui::FileBrowser;
using distrvit::test::TempDir;
using Strings = std::vector<std::string>;

namespace {

void touch(const fs::path& path) { std::ofstream(path) << "x"; }

// photos/ with images, a video, files of other kinds, hidden entries and two sub-folders.
struct PhotoFolder {
  PhotoFolder() {
    for (const char* folder : {"zoo", "birds", ".git"}) fs::create_directories(root / folder);
    for (const char* file : {"b.jpg", "a.PNG", "clip.mp4", "notes.txt", "model.safetensors", ".hidden.jpg",
                             "birds/flamingo.jpeg"}) {
      touch(root / file);
    }
  }
  TempDir temp;
  fs::path root = temp / "photos";
};

}  // namespace

TEST_CASE("file dialog: opens at a file's folder and lists sorted sub-folders and the files the purpose opens") {
  PhotoFolder photos;
  FileBrowser browser;
  browser.open(FileBrowser::Purpose::Source, (photos.root / "b.jpg").string());
  CHECK(browser.is_open());
  CHECK(browser.folder() == photos.root.string());
  CHECK(browser.folders() == Strings{"birds", "zoo"});
  CHECK(browser.files() == Strings{"a.PNG", "b.jpg", "clip.mp4"});
  CHECK(browser.selected().empty());
  CHECK(browser.error().empty());

  browser.open(FileBrowser::Purpose::Model, photos.root.string() + "/");
  CHECK(browser.folder() == photos.root.string());
  CHECK(browser.files() == Strings{"model.safetensors"});

  browser.open(FileBrowser::Purpose::SweepFolder, photos.root.string());
  CHECK(browser.files().empty());
  CHECK_FALSE(browser.picks_files());
}

TEST_CASE("file dialog: a missing start falls back to the current folder") {
  FileBrowser browser;
  browser.open(FileBrowser::Purpose::Source, "/no/such/place/x.jpg");
  CHECK(browser.folder() == fs::current_path().string());
  CHECK(browser.error().empty());
}

TEST_CASE("file dialog: enter a sub-folder, go up, and only listed folders can be entered") {
  PhotoFolder photos;
  FileBrowser browser;
  browser.open(FileBrowser::Purpose::Source, photos.root.string());
  browser.enter("birds");
  CHECK(browser.folder() == (photos.root / "birds").string());
  CHECK(browser.files() == Strings{"flamingo.jpeg"});
  browser.go_up();
  CHECK(browser.folder() == photos.root.string());
  browser.enter(".git");
  browser.enter("../..");
  CHECK(browser.folder() == photos.root.string());

  browser.go_to("/");
  browser.go_up();
  CHECK(browser.folder() == "/");
}

TEST_CASE("file dialog: select and pick a file, taken once, which closes the dialog") {
  PhotoFolder photos;
  FileBrowser browser;
  browser.open(FileBrowser::Purpose::Source, photos.root.string());
  CHECK_FALSE(browser.pick_file());  // nothing selected: "Open file" does nothing
  CHECK(browser.is_open());

  CHECK(browser.select("b.jpg"));
  CHECK(browser.is_selected("b.jpg"));
  CHECK_FALSE(browser.is_selected("a.PNG"));
  CHECK(browser.selected() == (photos.root / "b.jpg").string());
  CHECK_FALSE(browser.take_picked());
  CHECK(browser.pick_file());
  CHECK_FALSE(browser.is_open());
  CHECK(browser.take_picked() == (photos.root / "b.jpg").string());
  CHECK_FALSE(browser.take_picked());
}

TEST_CASE("file dialog: selecting a name that is not listed selects nothing") {
  PhotoFolder photos;
  FileBrowser browser;
  browser.open(FileBrowser::Purpose::Source, photos.root.string());
  REQUIRE(browser.select("b.jpg"));
  CHECK_FALSE(browser.select("notes.txt"));
  CHECK(browser.selected().empty());
  CHECK_FALSE(browser.pick_file());

  REQUIRE(browser.select("b.jpg"));
  browser.enter("birds");  // moving clears the selection
  CHECK(browser.selected().empty());
}

TEST_CASE("file dialog: pick the folder itself") {
  PhotoFolder photos;
  FileBrowser browser;
  browser.open(FileBrowser::Purpose::SweepFolder, photos.root.string());
  browser.enter("birds");
  CHECK(browser.pick_folder());
  CHECK_FALSE(browser.is_open());
  CHECK(browser.take_picked() == (photos.root / "birds").string());
}

TEST_CASE("file dialog: cancel closes without a pick") {
  PhotoFolder photos;
  FileBrowser browser;
  browser.open(FileBrowser::Purpose::Source, photos.root.string());
  REQUIRE(browser.select("b.jpg"));
  browser.cancel();
  CHECK_FALSE(browser.is_open());
  CHECK_FALSE(browser.take_picked());
}

TEST_CASE("file dialog: a folder that cannot be listed says why, lists nothing and cannot be picked") {
  PhotoFolder photos;
  FileBrowser browser;
  browser.open(FileBrowser::Purpose::Source, photos.root.string());

  browser.go_to((photos.root / "missing").string());
  CHECK(browser.error().find("missing: No such file or directory") != std::string::npos);
  CHECK(browser.folders().empty());
  CHECK(browser.files().empty());
  CHECK_FALSE(browser.pick_folder());
  CHECK(browser.is_open());

  browser.go_to((photos.root / "b.jpg").string());
  CHECK(browser.error().find("b.jpg: Not a directory") != std::string::npos);

  browser.go_up();  // back to a readable folder
  CHECK(browser.error().empty());
  CHECK(browser.files().size() == 3);
}

TEST_CASE("file dialog: an unreadable folder says so instead of looking empty") {
  PhotoFolder photos;
  const fs::path locked = photos.root / "zoo";
  fs::permissions(locked, fs::perms::none);
  if (access(locked.c_str(), R_OK) == 0) {  // root reads everything
    fs::permissions(locked, fs::perms::owner_all);
    MESSAGE("skipped: running as a user who can read a mode-000 folder");
    return;
  }
  FileBrowser browser;
  browser.open(FileBrowser::Purpose::Source, photos.root.string());
  browser.enter("zoo");
  CHECK(browser.folder() == locked.string());
  CHECK(browser.error().find("Permission denied") != std::string::npos);
  CHECK_FALSE(browser.pick_folder());
  fs::permissions(locked, fs::perms::owner_all);
}
