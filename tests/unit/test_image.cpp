#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "distrvit/error.h"
#include "distrvit/image.h"
#include "test_util.h"

using distrvit::decode_image_file;
using distrvit::Error;
using distrvit::ImageU8;
using distrvit::test::TempDir;
using Bytes = std::vector<uint8_t>;

namespace {

std::filesystem::path sample(const std::string& name) {
  return distrvit::test::shared_dir() / "data" / "imagenet" / "samples" / name;
}

Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

ImageU8 decode(const Bytes& bytes) { return distrvit::decode_image_memory(bytes.data(), bytes.size(), "test.img"); }

// The message of the Error that decoding throws ("" when it decodes).
std::string decode_error(const Bytes& bytes) {
  try {
    decode(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::array<int, 3> rgb_at(const ImageU8& image, int x, int y) {
  const size_t i = (size_t(y) * size_t(image.width) + size_t(x)) * 3;
  return {image.rgb[i], image.rgb[i + 1], image.rgb[i + 2]};
}

bool is_gray(const ImageU8& image) {
  for (size_t i = 0; i < image.rgb.size(); i += 3) {
    if (image.rgb[i] != image.rgb[i + 1] || image.rgb[i] != image.rgb[i + 2]) return false;
  }
  return true;
}

void append_be32(Bytes& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(uint8_t(value >> shift));
}

void append_le(Bytes& bytes, uint32_t value, int count) {
  for (int i = 0; i < count; ++i) bytes.push_back(uint8_t(value >> (8 * i)));
}

// A PNG chunk with its CRC, built by hand.
void append_chunk(Bytes& png, const char* type, const Bytes& data) {
  append_be32(png, uint32_t(data.size()));
  Bytes typed(type, type + 4);
  typed.insert(typed.end(), data.begin(), data.end());
  png.insert(png.end(), typed.begin(), typed.end());
  append_be32(png, uint32_t(crc32(0, typed.data(), uInt(typed.size()))));
}

Bytes png_header_only(uint32_t width, uint32_t height) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Bytes ihdr;
  append_be32(ihdr, width);
  append_be32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit RGB, deflate, no filter, no interlace
  append_chunk(png, "IHDR", ihdr);
  return png;
}

// Encodes with libjpeg at quality 100; `file_space` is the colour space stored in the file.
Bytes encode_jpeg(int width, int height, int components, J_COLOR_SPACE in_space, J_COLOR_SPACE file_space,
                  const Bytes& samples, bool progressive = false) {
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = JDIMENSION(width);
  info.image_height = JDIMENSION(height);
  info.input_components = components;
  info.in_color_space = in_space;
  jpeg_set_defaults(&info);
  jpeg_set_colorspace(&info, file_space);
  jpeg_set_quality(&info, 100, TRUE);
  if (progressive) jpeg_simple_progression(&info);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(&samples[size_t(info.next_scanline) * size_t(width * components)]);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  Bytes jpeg(buffer, buffer + size);
  std::free(buffer);
  jpeg_destroy_compress(&info);
  return jpeg;
}

Bytes rgb_pattern(int width, int height) {
  Bytes samples(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < samples.size(); ++i) samples[i] = uint8_t((i * 7 + i / 48 * 13) % 256);
  return samples;
}

// What to put in a PNG written with libpng for a test.
struct PngSpec {
  int width = 0;
  int height = 0;
  int bit_depth = 8;
  int color_type = PNG_COLOR_TYPE_RGB;
  bool interlaced = false;
  Bytes packed_rows;  // height rows, already packed to the bit depth (16-bit big-endian)
  std::vector<png_color> palette;
  Bytes palette_alpha;                          // tRNS for palette images
  std::vector<png_color_16> transparent_color;  // tRNS for gray and RGB images (0 or 1 entry)
};

struct PngMemoryWriter {
  Bytes bytes;
  png_structp png = nullptr;
  png_infop info = nullptr;
};

void append_png_bytes(png_structp png, png_bytep data, size_t length) {
  auto& out = static_cast<PngMemoryWriter*>(png_get_io_ptr(png))->bytes;
  out.insert(out.end(), data, data + length);
}

bool write_png_rows(PngMemoryWriter& writer, const PngSpec& spec, png_bytepp rows) {
  if (setjmp(png_jmpbuf(writer.png))) return false;
  png_set_write_fn(writer.png, &writer, append_png_bytes, nullptr);
  png_set_IHDR(writer.png, writer.info, png_uint_32(spec.width), png_uint_32(spec.height), spec.bit_depth,
               spec.color_type, spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!spec.palette.empty()) png_set_PLTE(writer.png, writer.info, spec.palette.data(), int(spec.palette.size()));
  if (!spec.palette_alpha.empty()) {
    png_set_tRNS(writer.png, writer.info, spec.palette_alpha.data(), int(spec.palette_alpha.size()), nullptr);
  }
  if (!spec.transparent_color.empty()) {
    png_set_tRNS(writer.png, writer.info, nullptr, 0, const_cast<png_color_16*>(spec.transparent_color.data()));
  }
  png_write_info(writer.png, writer.info);
  png_write_image(writer.png, rows);
  png_write_end(writer.png, nullptr);
  return true;
}

Bytes encode_png(const PngSpec& spec) {
  PngMemoryWriter writer;
  writer.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  writer.info = png_create_info_struct(writer.png);
  const size_t row_bytes = spec.packed_rows.size() / size_t(spec.height);
  std::vector<png_bytep> rows;
  for (int y = 0; y < spec.height; ++y) rows.push_back(const_cast<uint8_t*>(&spec.packed_rows[size_t(y) * row_bytes]));
  const bool written = write_png_rows(writer, spec, rows.data());
  png_destroy_write_struct(&writer.png, &writer.info);
  REQUIRE(written);
  return writer.bytes;
}

ImageU8 small_rgb_image() {
  ImageU8 image;
  image.width = 5;
  image.height = 3;
  image.rgb.resize(5 * 3 * 3);
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = uint8_t(i * 17);
  return image;
}

Bytes png_of(const ImageU8& image) {
  TempDir dir;
  distrvit::write_png((dir / "image.png").string(), image);
  return read_bytes(dir / "image.png");
}

}  // namespace

TEST_CASE("image: decodes the golden samples, grayscale ones replicated to RGB") {
  const ImageU8 color = decode_image_file(sample("n01440764_tench.JPEG").string());
  CHECK(color.width > 0);
  CHECK(color.rgb.size() == size_t(color.width) * size_t(color.height) * 3);
  CHECK_FALSE(is_gray(color));

  const ImageU8 gray = decode_image_file(sample("n02096051_Airedale.JPEG").string());  // a 1-component JPEG
  CHECK(gray.width == 500);
  CHECK(gray.height == 330);
  CHECK(is_gray(gray));
}

TEST_CASE("image: grayscale JPEG made with libjpeg decodes to equal channels") {
  Bytes gray(16 * 8);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = uint8_t(i * 2);
  const ImageU8 image = decode(encode_jpeg(16, 8, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, gray));
  REQUIRE(image.width == 16);
  REQUIRE(image.height == 8);
  CHECK(is_gray(image));
  for (size_t i = 0; i < gray.size(); ++i) CHECK(std::abs(int(image.rgb[3 * i]) - int(gray[i])) <= 2);
}

TEST_CASE("image: CMYK and YCCK JPEGs convert as PIL does (inverted Adobe CMYK, then cmyk2rgb)") {
  // Stored C, M, Y, K = 255, 128, 0, 200. PIL inverts to 0, 127, 255, 55, then
  // channel = (255 - k) - channel * (255 - k) / 255 = 200 - {0, 100, 200}.
  Bytes cmyk;
  for (int i = 0; i < 16 * 16; ++i) cmyk.insert(cmyk.end(), {255, 128, 0, 200});
  for (J_COLOR_SPACE stored : {JCS_CMYK, JCS_YCCK}) {
    CAPTURE(int(stored));
    const ImageU8 image = decode(encode_jpeg(16, 16, 4, JCS_CMYK, stored, cmyk));
    REQUIRE(image.width == 16);
    const auto [r, g, b] = rgb_at(image, 7, 9);
    CHECK(std::abs(r - 200) <= 3);
    CHECK(std::abs(g - 100) <= 3);
    CHECK(std::abs(b - 0) <= 3);
  }
}

TEST_CASE("image: progressive JPEG decodes like the baseline one") {
  const Bytes pixels = rgb_pattern(40, 24);
  const ImageU8 baseline = decode(encode_jpeg(40, 24, 3, JCS_RGB, JCS_YCbCr, pixels));
  const ImageU8 progressive = decode(encode_jpeg(40, 24, 3, JCS_RGB, JCS_YCbCr, pixels, true));
  REQUIRE(progressive.width == 40);
  int worst = 0;
  for (size_t i = 0; i < baseline.rgb.size(); ++i)
    worst = std::max(worst, std::abs(baseline.rgb[i] - progressive.rgb[i]));
  CHECK(worst <= 2);
}

TEST_CASE("image: truncated JPEGs are refused, as PIL refuses them") {
  TempDir dir;
  const Bytes full = read_bytes(sample("n01440764_tench.JPEG"));
  const Bytes half(full.begin(), full.begin() + long(full.size() / 2));
  write_bytes(dir / "half.jpg", half);
  const std::string path = (dir / "half.jpg").string();
  CHECK_THROWS_WITH_AS(decode_image_file(path), doctest::Contains((path + ": truncated JPEG").c_str()), Error);

  const Bytes progressive = encode_jpeg(40, 24, 3, JCS_RGB, JCS_YCbCr, rgb_pattern(40, 24), true);
  CHECK(decode_error(Bytes(progressive.begin(), progressive.begin() + long(progressive.size() * 2 / 3)))
            .find("truncated JPEG") != std::string::npos);

  // libjpeg reads ahead of the last entropy-coded bytes; without the end marker PIL's decoder
  // then waits for data that never comes and reports the file truncated. So do we.
  const Bytes without_end_marker(full.begin(), full.end() - 2);
  CHECK(decode_error(without_end_marker).find("truncated JPEG") != std::string::npos);
}

TEST_CASE("image: corrupt JPEG data is an error naming the file") {
  Bytes twelve_bit = encode_jpeg(8, 8, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, Bytes(64, 128));
  const Bytes start_of_frame = {0xFF, 0xC0};
  const auto frame = std::search(twelve_bit.begin(), twelve_bit.end(), start_of_frame.begin(), start_of_frame.end());
  REQUIRE(frame != twelve_bit.end());
  frame[4] = 12;  // sample precision
  CHECK(decode_error(twelve_bit) == "test.img: corrupt JPEG data: Unsupported JPEG data precision 12");
}

TEST_CASE("image: missing, empty, directory and non-image files") {
  TempDir dir;
  const std::string missing = (dir / "missing.jpg").string();
  CHECK_THROWS_WITH_AS(decode_image_file(missing), doctest::Contains((missing + ": cannot open").c_str()), Error);
  CHECK_THROWS_WITH_AS(decode_image_file(dir.path().string()), doctest::Contains("directory"), Error);

  write_bytes(dir / "empty.png", {});
  CHECK_THROWS_WITH_AS(decode_image_file((dir / "empty.png").string()), doctest::Contains("empty"), Error);

  Bytes noise(4096);
  uint32_t state = 12345;
  for (uint8_t& byte : noise) byte = uint8_t((state = state * 1103515245u + 12345u) >> 24);
  noise[0] = 0x13;
  noise[1] = 0x77;
  write_bytes(dir / "noise.jpg", noise);  // the extension does not matter
  const std::string noise_path = (dir / "noise.jpg").string();
  CHECK_THROWS_WITH_AS(decode_image_file(noise_path), (noise_path + ": not an image (unrecognized format)").c_str(),
                       Error);
}

TEST_CASE("image: a PNG declaring 100000x100000 pixels fails fast, before allocating") {
  TempDir dir;
  write_bytes(dir / "bomb.png", png_header_only(100000, 100000));
  const std::string path = (dir / "bomb.png").string();
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(decode_image_file(path), (path + ": image too large: 100000x100000 pixels").c_str(), Error);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));

  CHECK(decode_error(png_header_only(0, 10)).find("invalid image size: 0x10") != std::string::npos);
  const Bytes small = png_of(small_rgb_image());
  CHECK_THROWS_WITH_AS(distrvit::decode_image_memory(small.data(), small.size(), "x.png", 10),
                       "x.png: image too large: 5x3 pixels", Error);
}

TEST_CASE("image: corrupt and truncated PNGs") {
  const Bytes valid = png_of(small_rgb_image());
  Bytes bad_crc = valid;
  bad_crc[29] ^= 0x55;  // IHDR's CRC
  CHECK(decode_error(bad_crc).find("test.img: corrupt PNG data: ") == 0);
  CHECK(decode_error(bad_crc).find("CRC") != std::string::npos);

  Bytes bad_ihdr = valid;
  bad_ihdr[24] = 7;  // bit depth 7 (the CRC is fixed up below, so libpng judges the value)
  const uLong crc = crc32(0, &bad_ihdr[12], 17);
  for (int i = 0; i < 4; ++i) bad_ihdr[29 + size_t(i)] = uint8_t(crc >> (24 - 8 * i));
  CHECK(decode_error(bad_ihdr).find("test.img: corrupt PNG data: ") == 0);

  const Bytes truncated(valid.begin(), valid.begin() + long(valid.size() - 20));
  CHECK(decode_error(truncated).find("test.img: truncated PNG") == 0);
}

TEST_CASE("image: write_png round-trips and replaces the file atomically") {
  TempDir dir;
  const std::string path = (dir / "out.png").string();
  const ImageU8 image = small_rgb_image();
  distrvit::write_png(path, image);
  distrvit::write_png(path, image);  // over an existing file
  const ImageU8 back = decode_image_file(path);
  CHECK(back.width == image.width);
  CHECK(back.height == image.height);
  CHECK(back.rgb == image.rgb);
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);  // no temporary left behind

  const std::string unwritable = (dir / "no" / "such" / "dir.png").string();
  CHECK_THROWS_WITH_AS(distrvit::write_png(unwritable, image), doctest::Contains(unwritable.c_str()), Error);
  CHECK_THROWS_AS(distrvit::write_png(path, ImageU8{}), Error);
}

TEST_CASE("image: PNG alpha is dropped, not composited, as convert('RGB') does") {
  PngSpec rgba{2, 1, 8, PNG_COLOR_TYPE_RGB_ALPHA, false, {10, 20, 30, 0, 200, 100, 50, 128}, {}, {}, {}};
  const ImageU8 image = decode(encode_png(rgba));
  REQUIRE(image.width == 2);
  CHECK(rgb_at(image, 0, 0) == std::array<int, 3>{10, 20, 30});
  CHECK(rgb_at(image, 1, 0) == std::array<int, 3>{200, 100, 50});

  PngSpec gray_alpha{2, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, false, {77, 0, 200, 255}, {}, {}, {}};
  const ImageU8 gray = decode(encode_png(gray_alpha));
  CHECK(rgb_at(gray, 0, 0) == std::array<int, 3>{77, 77, 77});
  CHECK(rgb_at(gray, 1, 0) == std::array<int, 3>{200, 200, 200});

  // A transparent colour key (tRNS) changes nothing either.
  png_color_16 key{};
  key.gray = 77;
  key.red = 10;
  key.green = 20;
  key.blue = 30;
  PngSpec keyed_gray{2, 1, 8, PNG_COLOR_TYPE_GRAY, false, {77, 5}, {}, {}, {key}};
  CHECK(rgb_at(decode(encode_png(keyed_gray)), 0, 0) == std::array<int, 3>{77, 77, 77});
  PngSpec keyed_rgb{1, 1, 8, PNG_COLOR_TYPE_RGB, false, {10, 20, 30}, {}, {}, {key}};
  CHECK(rgb_at(decode(encode_png(keyed_rgb)), 0, 0) == std::array<int, 3>{10, 20, 30});
  PngSpec keyed_gray16{1, 1, 16, PNG_COLOR_TYPE_GRAY, false, {0, 77}, {}, {}, {key}};
  CHECK(rgb_at(decode(encode_png(keyed_gray16)), 0, 0) == std::array<int, 3>{77, 77, 77});
}

TEST_CASE("image: palette PNGs (with transparency, 4-bit) expand to their colours") {
  PngSpec palette{3,        1, 8, PNG_COLOR_TYPE_PALETTE, false, {2, 0, 1}, {{255, 0, 0}, {0, 255, 0}, {1, 2, 3}},
                  {0, 255}, {}};
  const ImageU8 image = decode(encode_png(palette));
  REQUIRE(image.width == 3);
  CHECK(rgb_at(image, 0, 0) == std::array<int, 3>{1, 2, 3});
  CHECK(rgb_at(image, 1, 0) == std::array<int, 3>{255, 0, 0});  // transparent entry keeps its colour
  CHECK(rgb_at(image, 2, 0) == std::array<int, 3>{0, 255, 0});

  PngSpec four_bit{3,  1, 4, PNG_COLOR_TYPE_PALETTE, false, {0x21, 0x00}, {{9, 9, 9}, {0, 0, 200}, {50, 60, 70}},
                   {}, {}};
  const ImageU8 packed = decode(encode_png(four_bit));
  CHECK(rgb_at(packed, 0, 0) == std::array<int, 3>{50, 60, 70});
  CHECK(rgb_at(packed, 1, 0) == std::array<int, 3>{0, 0, 200});
  CHECK(rgb_at(packed, 2, 0) == std::array<int, 3>{9, 9, 9});
}

TEST_CASE("image: low and high bit depth PNGs convert as PIL does") {
  PngSpec one_bit{3, 1, 1, PNG_COLOR_TYPE_GRAY, false, {0xA0}, {}, {}, {}};  // 1, 0, 1
  const ImageU8 bits = decode(encode_png(one_bit));
  CHECK(rgb_at(bits, 0, 0) == std::array<int, 3>{255, 255, 255});
  CHECK(rgb_at(bits, 1, 0) == std::array<int, 3>{0, 0, 0});

  PngSpec two_bit{4, 1, 2, PNG_COLOR_TYPE_GRAY, false, {0x1B}, {}, {}, {}};  // 0, 1, 2, 3
  const ImageU8 levels = decode(encode_png(two_bit));
  CHECK(rgb_at(levels, 1, 0)[0] == 85);
  CHECK(rgb_at(levels, 2, 0)[0] == 170);

  // 16-bit gray is held as integers by PIL and clipped to 255 when converted to RGB.
  PngSpec gray16{3, 1, 16, PNG_COLOR_TYPE_GRAY, false, {0x00, 100, 0x01, 0x2C, 0xFF, 0xFF}, {}, {}, {}};
  const ImageU8 clipped = decode(encode_png(gray16));
  CHECK(rgb_at(clipped, 0, 0) == std::array<int, 3>{100, 100, 100});
  CHECK(rgb_at(clipped, 1, 0) == std::array<int, 3>{255, 255, 255});
  CHECK(rgb_at(clipped, 2, 0) == std::array<int, 3>{255, 255, 255});

  // 16-bit colour keeps the high byte.
  PngSpec rgb16{1, 1, 16, PNG_COLOR_TYPE_RGB, false, {0x12, 0x34, 0xAB, 0xFF, 0x00, 0x80}, {}, {}, {}};
  CHECK(rgb_at(decode(encode_png(rgb16)), 0, 0) == std::array<int, 3>{0x12, 0xAB, 0x00});
}

TEST_CASE("image: interlaced PNG decodes like the plain one") {
  PngSpec spec{9, 7, 8, PNG_COLOR_TYPE_RGB, false, rgb_pattern(9, 7), {}, {}, {}};
  const ImageU8 plain = decode(encode_png(spec));
  spec.interlaced = true;
  const ImageU8 interlaced = decode(encode_png(spec));
  CHECK(plain.rgb == spec.packed_rows);
  CHECK(interlaced.rgb == spec.packed_rows);
}

TEST_CASE("image: BMP, GIF, PNM and TGA through stb_image") {
  Bytes bmp = {'B', 'M'};
  append_le(bmp, 14 + 40 + 16, 4);
  append_le(bmp, 0, 4);
  append_le(bmp, 14 + 40, 4);
  append_le(bmp, 40, 4);
  append_le(bmp, 2, 4);  // width
  append_le(bmp, 2, 4);  // height (bottom-up)
  append_le(bmp, 1, 2);
  append_le(bmp, 24, 2);
  for (int i = 0; i < 6; ++i) append_le(bmp, 0, 4);
  // Rows of 6 bytes padded to 8, BGR, bottom row first.
  bmp.insert(bmp.end(), {0, 0, 255, 0, 255, 0, 0, 0, 255, 0, 0, 10, 20, 30, 0, 0});
  const ImageU8 image = decode(bmp);
  REQUIRE(image.width == 2);
  CHECK(rgb_at(image, 0, 1) == std::array<int, 3>{255, 0, 0});
  CHECK(rgb_at(image, 1, 1) == std::array<int, 3>{0, 255, 0});
  CHECK(rgb_at(image, 0, 0) == std::array<int, 3>{0, 0, 255});
  CHECK(rgb_at(image, 1, 0) == std::array<int, 3>{30, 20, 10});
  CHECK(decode_error(Bytes(bmp.begin(), bmp.end() - 4)).find("test.img: truncated BMP") == 0);

  // 1x1 GIF, palette {red, black}, LZW codes: clear, 0, end.
  const Bytes gif = {'G', 'I',  'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 255,  0,    0, 0,   0,
                     0,   0x2C, 0,   0,   0,   0,   1, 0, 1, 0, 0,    2, 2, 0x44, 0x01, 0, 0x3B};
  CHECK(rgb_at(decode(gif), 0, 0) == std::array<int, 3>{255, 0, 0});

  const std::string ppm_header = "P6\n# comment\n2 1\n255\n";
  Bytes ppm(ppm_header.begin(), ppm_header.end());
  ppm.insert(ppm.end(), {1, 2, 3, 4, 5, 6});
  CHECK(rgb_at(decode(ppm), 1, 0) == std::array<int, 3>{4, 5, 6});
  CHECK(decode_error(Bytes(ppm.begin(), ppm.end() - 1)).find("test.img: truncated PNM") == 0);

  // PIL scales samples by maxval; 16-bit gray becomes 0..65535 integers, clipped to 255 as RGB.
  const std::string pgm_header = "P5 4 1 15\n";
  Bytes pgm(pgm_header.begin(), pgm_header.end());
  pgm.insert(pgm.end(), {0, 7, 15, 200});
  const ImageU8 scaled = decode(pgm);
  CHECK(rgb_at(scaled, 1, 0) == std::array<int, 3>{119, 119, 119});
  CHECK(rgb_at(scaled, 2, 0)[0] == 255);
  CHECK(rgb_at(scaled, 3, 0)[0] == 255);
  const std::string pgm16_header = "P5 3 1 1000\n";
  Bytes pgm16(pgm16_header.begin(), pgm16_header.end());
  pgm16.insert(pgm16.end(), {0, 1, 0, 3, 0x03, 0xE8});  // 1, 3, 1000 -> 66, 197, 65535
  const ImageU8 wide = decode(pgm16);
  CHECK(rgb_at(wide, 0, 0) == std::array<int, 3>{66, 66, 66});
  CHECK(rgb_at(wide, 1, 0)[0] == 197);
  CHECK(rgb_at(wide, 2, 0)[0] == 255);
  const std::string ppm16_header = "P6 1 1 65535\n";
  Bytes ppm16(ppm16_header.begin(), ppm16_header.end());
  ppm16.insert(ppm16.end(), {0x80, 0x00, 0x01, 0xC0, 0xFF, 0xFF});
  CHECK(rgb_at(decode(ppm16), 0, 0) == std::array<int, 3>{128, 2, 255});
  CHECK(decode_error({'P', '6', ' ', '1', ' ', '1', ' ', '0', '\n', 0, 0, 0}).find("maxval") != std::string::npos);

  Bytes tga = {0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 24, 0};
  tga.insert(tga.end(), {30, 20, 10, 60, 50, 40});  // BGR
  CHECK(rgb_at(decode(tga), 0, 0) == std::array<int, 3>{10, 20, 30});
  CHECK(rgb_at(decode(tga), 1, 0) == std::array<int, 3>{40, 50, 60});
  CHECK(decode_error(Bytes(tga.begin(), tga.end() - 3)).find("test.img: truncated TGA") == 0);

  CHECK(decode_error({'G', 'I', 'F', '8', '9', 'a', 1}).find("test.img: ") == 0);
}
