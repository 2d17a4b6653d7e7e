// Feeds arbitrary bytes to the safetensors parser and converts every small tensor it accepts.
// A distrvit::Error is the only acceptable failure; anything else (crash, sanitizer report, other exception) is a bug.
#include <cstddef>
#include <cstdint>

#include "distrvit/error.h"
#include "distrvit/safetensors.h"

namespace {

constexpr size_t kMaxConvertedBytes = 1 << 20;

void parse_and_convert(const uint8_t* data, size_t size) {
  const auto file = distrvit::SafetensorsFile::from_memory(data, size, "fuzz-input");
  for (const distrvit::TensorInfo& info : file->tensors()) {
    if (info.end - info.begin < kMaxConvertedBytes) file->to_float(info.name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    parse_and_convert(data, size);
  } catch (const distrvit::Error&) {
  }
  return 0;
}
