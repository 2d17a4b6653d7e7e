// PNG through libpng, converted as PIL's convert('RGB') converts: palette and gray expanded to RGB,
// alpha dropped (not composited), 16-bit samples cut to their high byte -- except 16-bit
// grayscale, which PIL holds as integers ("I;16") and clips to 255 when converting.
//
// libpng reports errors by calling back; the callbacks longjmp to the function that called
// setjmp. Those functions hold no objects with destructors and all state lives in PngReader /
// PngWriter, owned by the caller, so nothing is skipped or left indeterminate by the jump.
#include <png.h>
#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "distrvit/error.h"
#include "image_decoders.h"

namespace distrvit {
namespace image_detail {
namespace {

struct PngMessage {
  char text[256] = {};
  bool truncated = false;

  void set(const char* message) { std::snprintf(text, sizeof text, "%s", message); }
};

void on_png_error(png_structp png, png_const_charp message) {
  static_cast<PngMessage*>(png_get_error_ptr(png))->set(message);
  png_longjmp(png, 1);
}

void ignore_png_warning(png_structp, png_const_charp) {}

struct PngReader {
  const uint8_t* bytes;
  size_t size;
  size_t position = 0;
  PngMessage message;
  png_structp png = nullptr;
  png_infop info = nullptr;
  bool gray16 = false;  // 16-bit gray without alpha: rows stay 16-bit, clipped afterwards

  PngReader(const uint8_t* data, size_t length) : bytes(data), size(length) {
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &message, on_png_error, ignore_png_warning);
    if (png) info = png_create_info_struct(png);
  }
  ~PngReader() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;

  [[noreturn]] void fail_with_libpng_message(const std::string& label) const {
    if (message.truncated) fail(label, "truncated PNG file: {}", message.text);
    fail(label, "corrupt PNG data: {}", message.text);
  }
};

void read_from_memory(png_structp png, png_bytep out, size_t length) {
  auto& reader = *static_cast<PngReader*>(png_get_io_ptr(png));
  if (length > reader.size - reader.position) {
    reader.message.truncated = true;
    png_error(png, "premature end of file");
  }
  std::memcpy(out, reader.bytes + reader.position, length);
  reader.position += length;
}

uint32_t read_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// The size is checked from IHDR before libpng runs, so a header-only bomb fails on its size.
void check_declared_size(const uint8_t* bytes, size_t size, int64_t max_pixels, const std::string& label) {
  constexpr size_t kSignature = 8, kIhdrEnd = 24;
  if (size < kIhdrEnd || std::memcmp(bytes + kSignature + 4, "IHDR", 4) != 0) return;  // libpng will object
  check_dimensions(read_be32(bytes + 16), read_be32(bytes + 20), max_pixels, label);
}

void request_rgb8(PngReader& reader) {
  const int color_type = png_get_color_type(reader.png, reader.info);
  const int bit_depth = png_get_bit_depth(reader.png, reader.info);
  reader.gray16 = color_type == PNG_COLOR_TYPE_GRAY && bit_depth == 16;
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(reader.png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(reader.png);
  if (!reader.gray16) {
    if (bit_depth == 16) png_set_strip_16(reader.png);
    if ((color_type & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(reader.png);
    png_set_strip_alpha(reader.png);
  }
  png_set_interlace_handling(reader.png);
}

// Returns false after a libpng error (message in reader.message).
bool read_info(PngReader& reader) {
  if (setjmp(png_jmpbuf(reader.png))) return false;
  png_set_read_fn(reader.png, &reader, read_from_memory);
  png_set_crc_action(reader.png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);  // PIL checks every chunk's CRC
  png_set_user_limits(reader.png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);       // the pixel count was checked instead
  png_read_info(reader.png, reader.info);
  request_rgb8(reader);
  png_read_update_info(reader.png, reader.info);
  return true;
}

// The trailing chunks are not read: like PIL, a file whose image data is complete is accepted.
bool read_rows(PngReader& reader, png_bytepp rows) {
  if (setjmp(png_jmpbuf(reader.png))) return false;
  png_read_image(reader.png, rows);
  return true;
}

void clip_gray16_to_rgb(const std::vector<uint8_t>& big_endian, ImageU8& image) {
  const size_t pixels = big_endian.size() / 2;
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t value = big_endian[2 * i] == 0 ? big_endian[2 * i + 1] : 255;
    image.rgb[3 * i] = image.rgb[3 * i + 1] = image.rgb[3 * i + 2] = value;
  }
}

std::vector<png_bytep> row_pointers(uint8_t* pixels, size_t row_bytes, int height) {
  std::vector<png_bytep> rows(static_cast<size_t>(height));
  for (int y = 0; y < height; ++y) rows[size_t(y)] = pixels + size_t(y) * row_bytes;
  return rows;
}

}  // namespace

ImageU8 decode_png(const uint8_t* bytes, size_t size, const std::string& label, int64_t max_pixels) {
  check_declared_size(bytes, size, max_pixels, label);
  PngReader reader(bytes, size);
  if (!reader.png || !reader.info) fail(label, "cannot initialise libpng");
  if (!read_info(reader)) reader.fail_with_libpng_message(label);

  ImageU8 image;
  image.width = int(png_get_image_width(reader.png, reader.info));
  image.height = int(png_get_image_height(reader.png, reader.info));
  check_dimensions(image.width, image.height, max_pixels, label);
  const size_t channels = png_get_channels(reader.png, reader.info);
  const size_t row_bytes = png_get_rowbytes(reader.png, reader.info);
  const size_t expected_row_bytes = size_t(image.width) * (reader.gray16 ? 2 : 3);
  if (channels != (reader.gray16 ? 1u : 3u) || row_bytes != expected_row_bytes) {
    fail(label, "unsupported PNG layout ({} channels, {} bytes per row)", channels, row_bytes);
  }

  image.rgb.resize(size_t(image.width) * size_t(image.height) * 3);
  if (!reader.gray16) {
    std::vector<png_bytep> rows = row_pointers(image.rgb.data(), row_bytes, image.height);
    if (!read_rows(reader, rows.data())) reader.fail_with_libpng_message(label);
    return image;
  }
  std::vector<uint8_t> samples(row_bytes * size_t(image.height));
  std::vector<png_bytep> rows = row_pointers(samples.data(), row_bytes, image.height);
  if (!read_rows(reader, rows.data())) reader.fail_with_libpng_message(label);
  clip_gray16_to_rgb(samples, image);
  return image;
}

namespace {

struct PngWriter {
  PngMessage message;
  png_structp png = nullptr;
  png_infop info = nullptr;

  PngWriter() {
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &message, on_png_error, ignore_png_warning);
    if (png) info = png_create_info_struct(png);
  }
  ~PngWriter() { png_destroy_write_struct(&png, info ? &info : nullptr); }
  PngWriter(const PngWriter&) = delete;
  PngWriter& operator=(const PngWriter&) = delete;
};

bool write_rgb8(PngWriter& writer, std::FILE* file, int width, int height, png_bytepp rows) {
  if (setjmp(png_jmpbuf(writer.png))) return false;
  png_init_io(writer.png, file);
  png_set_IHDR(writer.png, writer.info, png_uint_32(width), png_uint_32(height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(writer.png, writer.info);
  png_write_image(writer.png, rows);
  png_write_end(writer.png, nullptr);
  return true;
}

}  // namespace
}  // namespace image_detail

void write_png(const std::string& path, const ImageU8& image) {
  using namespace image_detail;
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != size_t(image.width) * size_t(image.height) * 3) {
    fail(path, "cannot write PNG: image is {}x{} with {} bytes", image.width, image.height, image.rgb.size());
  }
  const std::string temp = path + ".tmp-" + std::to_string(getpid());
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  if (!file) fail(path, "cannot write: {}", std::strerror(errno));

  std::vector<png_bytep> rows =
      row_pointers(const_cast<uint8_t*>(image.rgb.data()), size_t(image.width) * 3, image.height);
  PngWriter writer;
  const bool written = writer.png && writer.info && write_rgb8(writer, file, image.width, image.height, rows.data());
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    const int error = errno;
    std::remove(temp.c_str());
    if (!written) fail(path, "cannot write PNG: {}", writer.message.text);
    fail(path, "cannot write: {}", std::strerror(error));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temp.c_str());
    fail(path, "cannot rename into place: {}", std::strerror(error));
  }
}

}  // namespace distrvit
