// Image decoding to 8-bit RGB, as PIL's Image.open(path).convert('RGB') gives it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace distrvit {

struct ImageU8 {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]
};

// Largest image accepted, in pixels (decompression-bomb guard, like PIL's limit).
constexpr int64_t kMaxImagePixels = 178956970;

// JPEG (libjpeg-turbo, as PIL decodes it: grayscale and CMYK converted like convert('RGB')),
// PNG (libpng: palette, gray, alpha, 16-bit), and BMP/GIF/TGA/PNM through stb_image.
// Throws Error("<label>: <problem>") for unreadable, truncated, corrupt or oversized input.
ImageU8 decode_image_file(const std::string& path);
ImageU8 decode_image_memory(const uint8_t* bytes, size_t size, const std::string& label);
// Same with a lower pixel limit (the fuzzer uses it to keep allocations small).
ImageU8 decode_image_memory(const uint8_t* bytes, size_t size, const std::string& label, int64_t max_pixels);

// Writes an 8-bit RGB PNG (screenshots, debugging). Atomic: temp file + rename.
void write_png(const std::string& path, const ImageU8& image);

}  // namespace distrvit
