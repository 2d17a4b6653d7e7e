#include <algorithm>

#include "distrvit/error.h"
#include "distrvit/preprocess.h"
#include "parallel_for.h"

namespace distrvit {

Tensor preprocess_batch(const std::vector<const ImageU8*>& images, const PreprocessConfig& config, int threads) {
  Tensor out({int64_t(images.size()), 3, config.input_height, config.input_width});
  const int64_t image_floats = out.numel() / std::max<int64_t>(1, out.dim(0));
  parallel_for(images.size(), threads, [&](size_t i) {
    if (!images[i]) fail(fmt::format("images[{}]", i), "null image");
    try {
      normalize_into(resize_and_crop(*images[i], config), config, out.ptr() + int64_t(i) * image_floats);
    } catch (const Error& error) {
      throw Error(fmt::format("images[{}]: {}", i, error.what()));
    }
  });
  return out;
}

}  // namespace distrvit
