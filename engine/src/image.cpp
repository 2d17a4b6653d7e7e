// Image decoding entry points: read the file, detect the format from its content, dispatch.
#include "distrvit/image.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "distrvit/error.h"
#include "image_decoders.h"

namespace distrvit {
namespace image_detail {
namespace {

bool starts_with(const uint8_t* bytes, size_t size, const char* magic, size_t magic_size) {
  return size >= magic_size && std::memcmp(bytes, magic, magic_size) == 0;
}

uint32_t read_le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }

// TGA has no signature: accept a header whose fields all have legal values.
bool looks_like_tga(const uint8_t* bytes, size_t size) {
  constexpr size_t kHeaderSize = 18;
  if (size < kHeaderSize) return false;
  const int colormap_type = bytes[1];
  const int image_type = bytes[2];
  const int bits_per_pixel = bytes[16];
  const bool colormapped = image_type == 1 || image_type == 9;
  const bool truecolor_or_gray = image_type == 2 || image_type == 3 || image_type == 10 || image_type == 11;
  if (colormap_type > 1 || (!colormapped && !truecolor_or_gray)) return false;
  if (colormapped != (colormap_type == 1)) return false;
  if (read_le16(bytes + 12) == 0 || read_le16(bytes + 14) == 0) return false;
  return bits_per_pixel == 8 || bits_per_pixel == 15 || bits_per_pixel == 16 || bits_per_pixel == 24 ||
         bits_per_pixel == 32;
}

}  // namespace

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::Jpeg:
      return "JPEG";
    case ImageFormat::Png:
      return "PNG";
    case ImageFormat::Bmp:
      return "BMP";
    case ImageFormat::Gif:
      return "GIF";
    case ImageFormat::Pnm:
      return "PNM";
    case ImageFormat::Tga:
      return "TGA";
    case ImageFormat::Unknown:
      break;
  }
  return "unknown";
}

ImageFormat detect_format(const uint8_t* bytes, size_t size) {
  if (starts_with(bytes, size, "\xFF\xD8\xFF", 3)) return ImageFormat::Jpeg;
  if (starts_with(bytes, size, "\x89PNG\r\n\x1A\n", 8)) return ImageFormat::Png;
  if (starts_with(bytes, size, "GIF87a", 6) || starts_with(bytes, size, "GIF89a", 6)) return ImageFormat::Gif;
  if (starts_with(bytes, size, "BM", 2)) return ImageFormat::Bmp;
  if (starts_with(bytes, size, "P5", 2) || starts_with(bytes, size, "P6", 2)) return ImageFormat::Pnm;
  if (looks_like_tga(bytes, size)) return ImageFormat::Tga;
  return ImageFormat::Unknown;
}

void check_dimensions(int64_t width, int64_t height, int64_t max_pixels, const std::string& label) {
  if (width <= 0 || height <= 0) fail(label, "invalid image size: {}x{} pixels", width, height);
  // Compare without multiplying, so absurd header values cannot overflow.
  if (width > max_pixels / height) fail(label, "image too large: {}x{} pixels", width, height);
}

}  // namespace image_detail

namespace {

using image_detail::ImageFormat;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

std::vector<uint8_t> read_whole_file(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) fail(path, "is a directory, not an image");
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) fail(path, "cannot open: {}", std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof chunk, file.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  if (std::ferror(file.get())) fail(path, "read error: {}", std::strerror(errno));
  return bytes;
}

}  // namespace

ImageU8 decode_image_memory(const uint8_t* bytes, size_t size, const std::string& label, int64_t max_pixels) {
  if (size == 0) fail(label, "not an image (empty file)");
  const ImageFormat format = image_detail::detect_format(bytes, size);
  switch (format) {
    case ImageFormat::Jpeg:
      return image_detail::decode_jpeg(bytes, size, label, max_pixels);
    case ImageFormat::Png:
      return image_detail::decode_png(bytes, size, label, max_pixels);
    case ImageFormat::Pnm:
      return image_detail::decode_pnm(bytes, size, label, max_pixels);
    case ImageFormat::Unknown:
      fail(label, "not an image (unrecognized format)");
    default:
      return image_detail::decode_with_stb(bytes, size, format, label, max_pixels);
  }
}

ImageU8 decode_image_memory(const uint8_t* bytes, size_t size, const std::string& label) {
  return decode_image_memory(bytes, size, label, kMaxImagePixels);
}

ImageU8 decode_image_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_whole_file(path);
  return decode_image_memory(bytes.data(), bytes.size(), path);
}

}  // namespace distrvit
