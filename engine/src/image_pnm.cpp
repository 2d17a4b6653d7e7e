// Binary PGM (P5) and PPM (P6) as PIL reads them: samples scaled by maxval to 8 bits, except that
// 16-bit grayscale becomes PIL mode "I" (scaled to 0..65535), which convert('RGB') clips to 255.
#include <algorithm>
#include <cmath>
#include <vector>

#include "distrvit/error.h"
#include "image_decoders.h"

namespace distrvit::image_detail {
namespace {

bool is_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

struct PnmHeader {
  int channels = 0;
  int64_t width = 0;
  int64_t height = 0;
  int64_t max_value = 0;
  size_t data_offset = 0;
};

// Reads the next decimal field, skipping whitespace and # comments, and the one whitespace byte
// that ends it. Returns false when the header is malformed.
bool read_field(const uint8_t* bytes, size_t size, size_t& pos, int64_t& value) {
  while (pos < size && (is_space(bytes[pos]) || bytes[pos] == '#')) {
    if (bytes[pos] == '#') {
      while (pos < size && bytes[pos] != '\n' && bytes[pos] != '\r') ++pos;
    } else {
      ++pos;
    }
  }
  constexpr int kMaxDigits = 10;  // PIL refuses longer tokens
  int digits = 0;
  value = 0;
  for (; pos < size && bytes[pos] >= '0' && bytes[pos] <= '9'; ++pos, ++digits) {
    if (digits == kMaxDigits) return false;
    value = value * 10 + (bytes[pos] - '0');
  }
  if (digits == 0 || pos >= size || !is_space(bytes[pos])) return false;
  ++pos;
  return true;
}

PnmHeader read_header(const uint8_t* bytes, size_t size, const std::string& label) {
  PnmHeader header;
  header.channels = bytes[1] == '6' ? 3 : 1;
  size_t pos = 2;
  if (!read_field(bytes, size, pos, header.width) || !read_field(bytes, size, pos, header.height) ||
      !read_field(bytes, size, pos, header.max_value)) {
    fail(label, "corrupt PNM header");
  }
  if (header.max_value < 1 || header.max_value > 65535) {
    fail(label, "corrupt PNM header: maxval {} is not in 1..65535", header.max_value);
  }
  header.data_offset = pos;
  return header;
}

// Python's round(): halves go to the even neighbour.
int64_t round_half_to_even(double x) {
  const double nearest = std::round(x);
  if (std::fabs(x - std::trunc(x)) == 0.5) return int64_t(2.0 * std::round(x / 2.0));
  return int64_t(nearest);
}

// One sample as PIL's PPM decoder stores it: min(top, round(sample / maxval * top)).
int64_t rescale(int64_t sample, int64_t max_value, int64_t top) {
  if (max_value == top) return std::min(sample, top);
  return std::min(top, round_half_to_even(double(sample) / double(max_value) * double(top)));
}

}  // namespace

ImageU8 decode_pnm(const uint8_t* bytes, size_t size, const std::string& label, int64_t max_pixels) {
  const PnmHeader header = read_header(bytes, size, label);
  check_dimensions(header.width, header.height, max_pixels, label);
  const int sample_bytes = header.max_value > 255 ? 2 : 1;
  const int64_t samples = header.width * header.height * header.channels;
  const int64_t available = int64_t(size - header.data_offset);
  if (available < samples * sample_bytes) {
    fail(label, "truncated PNM file: {} bytes of pixel data, header needs {}", available, samples * sample_bytes);
  }
  // 16-bit gray is PIL mode "I", 0..65535; everything else is 8-bit.
  const int64_t top = header.channels == 1 && sample_bytes == 2 ? 65535 : 255;

  ImageU8 image;
  image.width = int(header.width);
  image.height = int(header.height);
  image.rgb.resize(size_t(header.width) * size_t(header.height) * 3);
  const uint8_t* data = bytes + header.data_offset;
  for (int64_t i = 0; i < samples; ++i) {
    const int64_t sample = sample_bytes == 2 ? int64_t(data[2 * i]) << 8 | data[2 * i + 1] : data[i];
    const auto value = static_cast<uint8_t>(std::min<int64_t>(rescale(sample, header.max_value, top), 255));
    if (header.channels == 3) {
      image.rgb[size_t(i)] = value;
    } else {
      image.rgb[3 * size_t(i)] = image.rgb[3 * size_t(i) + 1] = image.rgb[3 * size_t(i) + 2] = value;
    }
  }
  return image;
}

}  // namespace distrvit::image_detail
