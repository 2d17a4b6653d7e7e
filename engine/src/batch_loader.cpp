#include "distrvit/batch_loader.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "distrvit/image.h"

namespace distrvit {

void load_images_into(const std::vector<std::string>& paths, const PreprocessConfig& config, int threads, Tensor& out) {
  const int64_t h = config.input_height, w = config.input_width, image_floats = 3 * h * w;
  out = Tensor({int64_t(paths.size()), 3, h, w});
  std::atomic<size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    for (size_t i = next++; i < paths.size(); i = next++) {
      try {
        const ImageU8 cropped = resize_and_crop(decode_image_file(paths[i]), config);
        normalize_into(cropped, config, out.ptr() + int64_t(i) * image_floats);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        next = paths.size();
      }
    }
  };
  const int workers = std::max(1, std::min<int>(threads, int(paths.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (first_error) std::rethrow_exception(first_error);
}

BatchLoader::BatchLoader(std::vector<std::string> paths, PreprocessConfig config, int batch_size, int threads)
    : paths_(std::move(paths)), config_(std::move(config)), batch_size_(std::max(1, batch_size)), threads_(threads) {
  if (!paths_.empty()) pending_ = start(0);
}

BatchLoader::~BatchLoader() {
  if (pending_.valid()) pending_.wait();
}

std::future<Tensor> BatchLoader::start(size_t first) {
  const size_t last = std::min(paths_.size(), first + batch_size_);
  std::vector<std::string> slice(paths_.begin() + first, paths_.begin() + last);
  pending_first_ = first;
  next_first_ = last;
  return std::async(std::launch::async, [this, slice = std::move(slice)] {
    Tensor batch;
    load_images_into(slice, config_, threads_, batch);
    return batch;
  });
}

bool BatchLoader::next(Tensor& batch, size_t& first) {
  if (!pending_.valid()) return false;
  first = pending_first_;
  batch = pending_.get();
  if (next_first_ < paths_.size()) pending_ = start(next_first_);
  return true;
}

}  // namespace distrvit
