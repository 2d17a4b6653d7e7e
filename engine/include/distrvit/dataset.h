// Labelled image folders: ImageNet-style "<synset>/<file>" trees, or a flat folder plus a labels file.
#pragma once
#include <string>
#include <vector>

#include "distrvit/labels.h"

namespace distrvit {

struct LabelledImage {
  std::string path;
  int label = -1;  // class index
};

// Folder layout: `labels_file` empty -> every sub-folder named after a synset of `classes` holds that class;
// otherwise a flat folder and lines "<file name> <class index>" (ImageNet's val_labels.txt format).
// Files not listed in the labels file are skipped; listed files that are absent are an error.
// Sorted by path. `limit` > 0 keeps the first `limit`.
std::vector<LabelledImage> list_labelled_images(const std::string& folder, const std::string& labels_file,
                                                const ClassList& classes, size_t limit = 0);

// Deterministic calibration / evaluation split of a sorted list: `every` > 0 keeps images whose index is a
// multiple of `every`; `skip_every` > 0 drops them. Both 0: unchanged.
std::vector<LabelledImage> split_images(const std::vector<LabelledImage>& images, int every, int skip_every);

bool is_image_file_name(const std::string& name);  // by extension: jpg, jpeg, png, bmp, ...

// The image files of `paths`: files as given, folders searched recursively for image files (is_image_file_name),
// sorted within each folder. Throws Error naming a missing path, a folder without images or one that cannot be
// listed.
std::vector<std::string> expand_image_paths(const std::vector<std::string>& paths);

}  // namespace distrvit
