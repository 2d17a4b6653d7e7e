// Decoding (+ preprocessing) image files into batches on worker threads, one batch ahead of the consumer.
#pragma once
#include <future>
#include <string>
#include <vector>

#include "distrvit/image.h"
#include "distrvit/preprocess.h"
#include "distrvit/tensor.h"

namespace distrvit {

// Decodes and preprocesses `paths` into `out` ([paths.size(), 3, H, W]) using up to `threads` threads.
// Throws the first Error (naming the file).
void load_images_into(const std::vector<std::string>& paths, const PreprocessConfig& config, int threads, Tensor& out);

// Decodes `paths` using up to `threads` threads. Throws the first Error (naming the file).
std::vector<ImageU8> decode_images(const std::vector<std::string>& paths, int threads);

// What a BatchLoader hands out: model inputs preprocessed on its threads, or the decoded images (to be preprocessed
// elsewhere, e.g. on the GPU by Engine::forward_images).
enum class BatchContent { Preprocessed, Decoded };

class BatchLoader {
 public:
  BatchLoader(std::vector<std::string> paths, PreprocessConfig config, int batch_size, int threads,
              BatchContent content = BatchContent::Preprocessed);
  ~BatchLoader();

  // Preprocessed: fills `batch` with the next images ([b, 3, H, W]) and sets `first` to the index of its first image.
  // Returns false when every image has been handed out.
  bool next(Tensor& batch, size_t& first);
  // Decoded: the same with the next b decoded images.
  bool next(std::vector<ImageU8>& images, size_t& first);

 private:
  struct Batch {
    Tensor input;                // Preprocessed: [b, 3, H, W]
    std::vector<ImageU8> images;  // Decoded: b images
  };
  std::future<Batch> start(size_t first);
  Batch take(BatchContent wanted, size_t& first);

  std::vector<std::string> paths_;
  PreprocessConfig config_;
  size_t batch_size_;
  int threads_;
  BatchContent content_;
  size_t pending_first_ = 0;  // index of the first image of `pending_`
  size_t next_first_ = 0;
  std::future<Batch> pending_;
};

}  // namespace distrvit
