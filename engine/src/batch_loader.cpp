#include "distrvit/batch_loader.h"

#include <algorithm>

#include "distrvit/error.h"
#include "parallel_for.h"

namespace distrvit {

void load_images_into(const std::vector<std::string>& paths, const PreprocessConfig& config, int threads, Tensor& out) {
  const int64_t h = config.input_height, w = config.input_width, image_floats = 3 * h * w;
  out = Tensor({int64_t(paths.size()), 3, h, w});
  parallel_for(paths.size(), std::max(1, threads), [&](size_t i) {
    const ImageU8 cropped = resize_and_crop(decode_image_file(paths[i]), config);
    normalize_into(cropped, config, out.ptr() + int64_t(i) * image_floats);
  });
}

std::vector<ImageU8> decode_images(const std::vector<std::string>& paths, int threads) {
  std::vector<ImageU8> images(paths.size());
  parallel_for(paths.size(), std::max(1, threads), [&](size_t i) { images[i] = decode_image_file(paths[i]); });
  return images;
}

BatchLoader::BatchLoader(std::vector<std::string> paths, PreprocessConfig config, int batch_size, int threads,
                         BatchContent content)
    : paths_(std::move(paths)), config_(std::move(config)), batch_size_(std::max(1, batch_size)), threads_(threads),
      content_(content) {
  if (!paths_.empty()) pending_ = start(0);
}

BatchLoader::~BatchLoader() {
  if (pending_.valid()) pending_.wait();
}

std::future<BatchLoader::Batch> BatchLoader::start(size_t first) {
  const size_t last = std::min(paths_.size(), first + batch_size_);
  std::vector<std::string> slice(paths_.begin() + first, paths_.begin() + last);
  pending_first_ = first;
  next_first_ = last;
  return std::async(std::launch::async, [this, slice = std::move(slice)] {
    Batch batch;
    if (content_ == BatchContent::Decoded) {
      batch.images = decode_images(slice, threads_);
    } else {
      load_images_into(slice, config_, threads_, batch.input);
    }
    return batch;
  });
}

BatchLoader::Batch BatchLoader::take(BatchContent wanted, size_t& first) {
  if (wanted != content_) {
    throw Error(wanted == BatchContent::Decoded ? "BatchLoader: asked for decoded images from a preprocessing loader"
                                                : "BatchLoader: asked for input tensors from a decoding loader");
  }
  first = pending_first_;
  Batch batch = pending_.get();
  if (next_first_ < paths_.size()) pending_ = start(next_first_);
  return batch;
}

bool BatchLoader::next(Tensor& batch, size_t& first) {
  if (!pending_.valid()) return false;
  batch = take(BatchContent::Preprocessed, first).input;
  return true;
}

bool BatchLoader::next(std::vector<ImageU8>& images, size_t& first) {
  if (!pending_.valid()) return false;
  images = take(BatchContent::Decoded, first).images;
  return true;
}

}  // namespace distrvit
