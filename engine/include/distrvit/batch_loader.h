// Decoding + preprocessing image files into input batches on worker threads, one batch ahead of the consumer.
#pragma once
#include <future>
#include <string>
#include <vector>

#include "distrvit/preprocess.h"
#include "distrvit/tensor.h"

namespace distrvit {

// Decodes and preprocesses `paths` into `out` ([paths.size(), 3, H, W]) using up to `threads` threads.
// Throws the first Error (naming the file).
void load_images_into(const std::vector<std::string>& paths, const PreprocessConfig& config, int threads, Tensor& out);

class BatchLoader {
 public:
  BatchLoader(std::vector<std::string> paths, PreprocessConfig config, int batch_size, int threads);
  ~BatchLoader();

  // Fills `batch` with the next images ([b, 3, H, W]) and sets `first` to the index of its first image.
  // Returns false when every image has been handed out.
  bool next(Tensor& batch, size_t& first);

 private:
  std::future<Tensor> start(size_t first);

  std::vector<std::string> paths_;
  PreprocessConfig config_;
  size_t batch_size_;
  int threads_;
  size_t pending_first_ = 0;  // index of the first image of `pending_`
  size_t next_first_ = 0;
  std::future<Tensor> pending_;
};

}  // namespace distrvit
