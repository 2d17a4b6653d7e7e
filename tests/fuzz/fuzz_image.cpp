// libFuzzer target: arbitrary bytes through the image decoders, then the timm transform.
// Only distrvit::Error may escape the decoders; anything else (crash, leak, sanitizer report,
// other exception) is a bug.
#include <cstddef>
#include <cstdint>

#include "distrvit/error.h"
#include "distrvit/image.h"
#include "distrvit/preprocess.h"

namespace {

// Headers may declare up to kMaxImagePixels; a lower limit keeps the fuzzer exploring the codecs
// instead of allocating and filling huge blank images.
constexpr int64_t kFuzzMaxPixels = int64_t(1) << 22;

void check_consistent(const distrvit::ImageU8& image) {
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != size_t(image.width) * size_t(image.height) * 3) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const distrvit::ImageU8 image = distrvit::decode_image_memory(data, size, "fuzz input", kFuzzMaxPixels);
    check_consistent(image);
    distrvit::PreprocessConfig config;
    config.input_height = config.input_width = 32;
    check_consistent(distrvit::resize_and_crop(image, config));
  } catch (const distrvit::Error&) {
  }
  return 0;
}
