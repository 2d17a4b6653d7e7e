#include "distrvit/dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include "distrvit/error.h"

namespace distrvit {
namespace fs = std::filesystem;

bool is_image_file_name(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
  for (const char* known : {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tga", ".ppm", ".pgm", ".pnm"}) {
    if (ext == known) return true;
  }
  return false;
}

std::vector<std::string> expand_image_paths(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, error), end;
           !error && it != end; it.increment(error)) {
        if (it->is_regular_file(error) && is_image_file_name(it->path().string()))
          found.push_back(it->path().string());
      }
      if (error) fail(path, "cannot list folder: {}", error.message());
      if (found.empty()) fail(path, "folder holds no image files");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, error)) {
      files.push_back(path);
    } else {
      fail(path, "no such file or folder");
    }
  }
  if (files.empty()) throw Error("images: no files given");
  return files;
}

std::vector<LabelledImage> split_images(const std::vector<LabelledImage>& images, int every, int skip_every) {
  std::vector<LabelledImage> kept;
  for (size_t i = 0; i < images.size(); ++i) {
    if (every > 0 && i % every != 0) continue;
    if (skip_every > 0 && i % skip_every == 0) continue;
    kept.push_back(images[i]);
  }
  return kept;
}

namespace {

std::vector<LabelledImage> list_synset_tree(const std::string& folder, const ClassList& classes) {
  std::vector<LabelledImage> images;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (!entry.is_directory()) continue;
    const std::string synset = entry.path().filename().string();
    const int label = classes.index_of_synset(synset);
    if (label < 0) fail(entry.path().string(), "folder name is not a synset of the class list");
    for (const auto& file : fs::directory_iterator(entry.path())) {
      if (file.is_regular_file() && is_image_file_name(file.path().string())) {
        images.push_back({file.path().string(), label});
      }
    }
  }
  return images;
}

std::vector<LabelledImage> list_flat_folder(const std::string& folder, const std::string& labels_file,
                                            size_t num_classes) {
  std::ifstream in(labels_file);
  if (!in) fail(labels_file, "cannot open labels file");
  std::unordered_map<std::string, int> labels;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream fields(line);
    std::string name;
    int label = -1;
    if (!(fields >> name)) continue;
    if (!(fields >> label) || label < 0 || size_t(label) >= num_classes) {
      fail(labels_file, "line {}: expected '<file> <class index below {}>'", number, num_classes);
    }
    labels[name] = label;
  }
  std::vector<LabelledImage> images;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    auto it = labels.find(entry.path().filename().string());
    if (it != labels.end()) images.push_back({entry.path().string(), it->second});
  }
  return images;
}

}  // namespace

std::vector<LabelledImage> list_labelled_images(const std::string& folder, const std::string& labels_file,
                                                const ClassList& classes, size_t limit) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) fail(folder, "no such data folder");
  std::vector<LabelledImage> images;
  try {
    images = labels_file.empty() ? list_synset_tree(folder, classes)
                                 : list_flat_folder(folder, labels_file, classes.synsets.size());
  } catch (const fs::filesystem_error& e) {
    fail(folder, "cannot list: {}", e.code().message());
  }
  if (images.empty()) {
    fail(folder, labels_file.empty() ? "no images in <synset>/ sub-folders" : "no images listed in the labels file");
  }
  std::sort(images.begin(), images.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  if (limit > 0 && images.size() > limit) images.resize(limit);
  return images;
}

}  // namespace distrvit
