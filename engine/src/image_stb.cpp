// BMP, GIF and TGA through stb_image (Debian's libstb). stb reads zeros past the end of its
// input, so for the uncompressed layouts the header is checked against the file size first: a
// truncated file is refused, as PIL refuses it.
#include <stb/stb_image.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <memory>

#include "distrvit/error.h"
#include "image_decoders.h"

namespace distrvit::image_detail {
namespace {

uint32_t read_le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }
uint32_t read_le32(const uint8_t* p) { return read_le16(p) | read_le16(p + 2) << 16; }

constexpr int64_t kUnknownSize = 0;  // layout not understood here: let stb judge it

int64_t bmp_min_size(const uint8_t* bytes, size_t size) {
  constexpr size_t kFileHeaderSize = 14;
  if (size < kFileHeaderSize + 16) return kUnknownSize;
  const int64_t pixel_offset = read_le32(bytes + 10);
  const int64_t info_size = read_le32(bytes + 14);
  int64_t width = 0, height = 0, bits = 0, compression = 0;
  if (info_size == 12) {  // OS/2 BITMAPCOREHEADER
    width = read_le16(bytes + 18);
    height = read_le16(bytes + 20);
    bits = read_le16(bytes + 24);
  } else if (info_size >= 40 && size >= kFileHeaderSize + 40) {
    width = int32_t(read_le32(bytes + 18));
    height = int32_t(read_le32(bytes + 22));
    bits = read_le16(bytes + 28);
    compression = read_le32(bytes + 30);
  } else {
    return kUnknownSize;
  }
  constexpr int64_t kRgb = 0, kBitfields = 3;
  if (compression != kRgb && compression != kBitfields) return kUnknownSize;
  if (bits <= 0 || bits > 32) return kUnknownSize;
  const int64_t row_bytes = (std::abs(width) * bits + 31) / 32 * 4;  // rows are padded to 4 bytes
  return std::max(pixel_offset, int64_t(kFileHeaderSize) + info_size) + row_bytes * std::abs(height);
}

int64_t tga_min_size(const uint8_t* bytes) {
  constexpr int64_t kHeaderSize = 18;
  const int64_t id_length = bytes[0];
  const int image_type = bytes[2];
  const int64_t colormap_entries = read_le16(bytes + 5);
  const int64_t colormap_entry_bytes = (bytes[7] + 7) / 8;
  const int64_t pixels = int64_t(read_le16(bytes + 12)) * read_le16(bytes + 14);
  const int64_t pixel_bytes = (bytes[16] + 7) / 8;
  const int64_t colormap_bytes = bytes[1] == 1 ? colormap_entries * colormap_entry_bytes : 0;
  const bool run_length_encoded = image_type >= 9;
  // An RLE packet holds at most 128 pixels in one header byte plus one pixel value.
  const int64_t data_bytes = run_length_encoded ? (pixels + 127) / 128 * (1 + pixel_bytes) : pixels * pixel_bytes;
  return kHeaderSize + id_length + colormap_bytes + data_bytes;
}

int64_t min_encoded_size(const uint8_t* bytes, size_t size, ImageFormat format) {
  switch (format) {
    case ImageFormat::Bmp:
      return bmp_min_size(bytes, size);
    case ImageFormat::Tga:
      return tga_min_size(bytes);
    default:
      return kUnknownSize;  // GIF: LZW data has no useful lower bound
  }
}

struct StbFree {
  void operator()(unsigned char* pixels) const { stbi_image_free(pixels); }
};

}  // namespace

ImageU8 decode_with_stb(const uint8_t* bytes, size_t size, ImageFormat format, const std::string& label,
                        int64_t max_pixels) {
  const char* name = format_name(format);
  if (size > size_t(INT_MAX)) fail(label, "{} file too large to decode", name);
  const int length = int(size);
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(bytes, length, &width, &height, &channels)) {
    fail(label, "corrupt {} data: {}", name, stbi_failure_reason());
  }
  // stb reports top-down BMPs with a negative height.
  check_dimensions(std::abs(int64_t(width)), std::abs(int64_t(height)), max_pixels, label);
  const int64_t needed = min_encoded_size(bytes, size, format);
  if (needed > int64_t(size)) fail(label, "truncated {} data: {} bytes, header needs {}", name, size, needed);

  constexpr int kRgb = 3;
  std::unique_ptr<unsigned char, StbFree> pixels(
      stbi_load_from_memory(bytes, length, &width, &height, &channels, kRgb));
  if (!pixels) fail(label, "corrupt {} data: {}", name, stbi_failure_reason());
  check_dimensions(width, height, max_pixels, label);
  ImageU8 image;
  image.width = width;
  image.height = height;
  image.rgb.assign(pixels.get(), pixels.get() + size_t(width) * size_t(height) * kRgb);
  return image;
}

}  // namespace distrvit::image_detail
