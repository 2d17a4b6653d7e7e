// ImageNet class names (assets/imagenet_synsets.txt: "<synset> <names>" per line, line i = class i).
#pragma once
#include <string>
#include <vector>

namespace distrvit {

struct ClassList {
  std::vector<std::string> synsets;  // "n01440764"
  std::vector<std::string> names;    // "tench, Tinca tinca"

  int index_of_synset(const std::string& synset) const;  // -1 when absent
  std::string label(int index) const;                    // first name, or "class <i>"
};

ClassList load_class_list(const std::string& path);
ClassList default_class_list();  // the copy in assets/, located next to the binary or in the source tree

}  // namespace distrvit
