// Class names: ImageNet-1k's (assets/imagenet_synsets.txt: "<synset> <names>" per line, line i = class i), or a
// model's own.
#pragma once
#include <string>
#include <vector>

namespace distrvit {

struct VitConfig;

struct ClassList {
  std::vector<std::string> synsets;  // "n01440764"
  std::vector<std::string> names;    // "tench, Tinca tinca"

  int index_of_synset(const std::string& synset) const;  // -1 when absent
  std::string label(int index) const;                    // first name, or "class <i>"
};

ClassList load_class_list(const std::string& path);
ClassList default_class_list();  // the copy in assets/, located next to the binary or in the source tree

// The names of a model's classes: its own (Hugging Face's id2label, timm's label_names described by its
// label_descriptions or, for synsets, by ImageNet's list), else ImageNet-1k's for a 1000-class head, else none
// (label() then says "class <i>"). synsets holds the checkpoint's names that are WordNet synsets ("" for others).
ClassList model_class_list(const VitConfig& config, const ClassList& imagenet);

// Throws Error naming `what` unless the model's head has ImageNet-1k's 1000 classes (validation folders are
// labelled by its synsets).
void require_imagenet_classes(const VitConfig& config, const std::string& what);

}  // namespace distrvit
