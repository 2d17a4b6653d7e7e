#include "distrvit/labels.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "data_folders.h"
#include "distrvit/error.h"
#include "distrvit/model.h"

namespace distrvit {
namespace fs = std::filesystem;

int ClassList::index_of_synset(const std::string& synset) const {
  for (size_t i = 0; i < synsets.size(); ++i) {
    if (synsets[i] == synset) return static_cast<int>(i);
  }
  return -1;
}

std::string ClassList::label(int index) const {
  if (index < 0 || size_t(index) >= names.size()) return "class " + std::to_string(index);
  const std::string& full = names[index];
  return full.substr(0, full.find(','));
}

ClassList load_class_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open class list");
  ClassList list;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == std::string::npos) fail(path, "line {}: expected '<synset> <names>'", number);
    list.synsets.push_back(line.substr(0, space));
    list.names.push_back(line.substr(space + 1));
  }
  if (list.synsets.empty()) fail(path, "class list is empty");
  return list;
}

ClassList default_class_list() {
  std::error_code ec;
  for (const fs::path& folder : data_folder_candidates("DISTRVIT_ASSETS", "", "assets")) {
    const fs::path file = folder / "imagenet_synsets.txt";
    if (fs::exists(file, ec)) return load_class_list(file.string());
  }
  throw Error("imagenet_synsets.txt: class list not found (set DISTRVIT_ASSETS to the assets folder)");
}

namespace {

bool is_wordnet_synset(const std::string& name) {  // "n01440764"
  return name.size() == 9 && name[0] == 'n' &&
         std::all_of(name.begin() + 1, name.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

ClassList model_class_list(const VitConfig& config, const ClassList& imagenet) {
  if (!config.class_names.empty()) {  // described by the checkpoint, else by ImageNet's list where it is a synset
    ClassList own;
    for (size_t i = 0; i < config.class_names.size(); ++i) {
      own.synsets.push_back(is_wordnet_synset(config.class_names[i]) ? config.class_names[i] : "");
      const std::string& description = i < config.class_descriptions.size() ? config.class_descriptions[i] : "";
      const int imagenet_index = imagenet.index_of_synset(config.class_names[i]);
      own.names.push_back(!description.empty() ? description
                          : imagenet_index >= 0 ? imagenet.names[imagenet_index]
                                                : config.class_names[i]);
    }
    return own;
  }
  return config.num_classes == int(imagenet.names.size()) ? imagenet : ClassList{};
}

void require_imagenet_classes(const VitConfig& config, const std::string& what) {
  if (config.num_classes != 1000) {
    fail(what, "the model has {} classes, and images are labelled by ImageNet-1k's 1000", config.num_classes);
  }
}

}  // namespace distrvit
