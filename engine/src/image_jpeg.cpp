// JPEG through libjpeg(-turbo), configured as PIL configures it (islow DCT, fancy upsampling),
// with PIL's conversions to RGB: grayscale replicated, CMYK read inverted ("CMYK;I") and then
// converted with PIL's cmyk2rgb.
//
// libjpeg reports errors by calling back; the callbacks longjmp to the function that called
// setjmp. Those functions hold no objects with destructors and all state lives in JpegDecoder,
// owned by the caller, so nothing is skipped or left indeterminate by the jump.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include <jpeglib.h>
// jpeglib.h must come first.
#include <jerror.h>

#include "distrvit/error.h"
#include "image_decoders.h"

namespace distrvit::image_detail {
namespace {

struct JpegErrorState {
  jpeg_error_mgr manager;  // first member: libjpeg's callbacks receive a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
  bool truncated = false;
};

JpegErrorState& error_state(j_common_ptr info) { return *reinterpret_cast<JpegErrorState*>(info->err); }

[[noreturn]] void jump_back_with_message(j_common_ptr info) {
  info->err->format_message(info, error_state(info).message);
  std::longjmp(error_state(info).jump, 1);
}

void on_error(j_common_ptr info) { jump_back_with_message(info); }

// Warnings are ignored (PIL decodes corrupt-but-readable data too), except running out of data:
// libjpeg would pad with gray where PIL refuses the truncated file.
void on_message(j_common_ptr info, int level) {
  const bool warning = level < 0;
  if (warning && info->err->msg_code == JWRN_JPEG_EOF) {
    error_state(info).truncated = true;
    jump_back_with_message(info);
  }
}

void print_nothing(j_common_ptr) {}

struct JpegDecoder {
  jpeg_decompress_struct info{};
  JpegErrorState errors;
  bool created = false;

  JpegDecoder() {
    info.err = jpeg_std_error(&errors.manager);
    errors.manager.error_exit = on_error;
    errors.manager.emit_message = on_message;
    errors.manager.output_message = print_nothing;
  }
  ~JpegDecoder() {
    if (created) jpeg_destroy_decompress(&info);
  }
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  [[noreturn]] void fail_with_libjpeg_message(const std::string& label) const {
    if (errors.truncated) fail(label, "truncated JPEG file: {}", errors.message);
    fail(label, "corrupt JPEG data: {}", errors.message);
  }
};

J_COLOR_SPACE output_space_for(int components) {
  switch (components) {
    case 1:
      return JCS_GRAYSCALE;
    case 3:
      return JCS_RGB;
    case 4:
      return JCS_CMYK;  // libjpeg turns YCCK into CMYK
    default:
      return JCS_UNKNOWN;
  }
}

// Returns false after a libjpeg error, or when PIL would not know the component count.
bool read_header(JpegDecoder& decoder, const uint8_t* bytes, size_t size) {
  if (setjmp(decoder.errors.jump)) return false;
  jpeg_create_decompress(&decoder.info);
  decoder.created = true;
  jpeg_mem_src(&decoder.info, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&decoder.info, TRUE);
  decoder.info.out_color_space = output_space_for(decoder.info.num_components);
  if (decoder.info.out_color_space == JCS_UNKNOWN) {
    std::snprintf(decoder.errors.message, sizeof decoder.errors.message, "cannot handle %d-component images",
                  decoder.info.num_components);
    return false;
  }
  decoder.info.dct_method = JDCT_ISLOW;
  decoder.info.do_fancy_upsampling = TRUE;
  jpeg_calc_output_dimensions(&decoder.info);
  return true;
}

// Decodes every scanline into `pixels` (output_height rows of output_width * output_components).
// Like PIL's decoder, it stops at the last scanline: what follows it in the file is not checked.
bool read_scanlines(JpegDecoder& decoder, uint8_t* pixels) {
  if (setjmp(decoder.errors.jump)) return false;
  jpeg_start_decompress(&decoder.info);
  const size_t row_bytes = size_t(decoder.info.output_width) * size_t(decoder.info.output_components);
  while (decoder.info.output_scanline < decoder.info.output_height) {
    JSAMPROW row = pixels + size_t(decoder.info.output_scanline) * row_bytes;
    if (jpeg_read_scanlines(&decoder.info, &row, 1) != 1) {
      std::snprintf(decoder.errors.message, sizeof decoder.errors.message, "decoder stopped early");
      decoder.errors.truncated = true;
      return false;
    }
  }
  return true;
}

void gray_to_rgb(const std::vector<uint8_t>& gray, ImageU8& image) {
  for (size_t i = 0; i < gray.size(); ++i) {
    image.rgb[3 * i] = image.rgb[3 * i + 1] = image.rgb[3 * i + 2] = gray[i];
  }
}

// PIL's rounded a * b / 255 for bytes.
int multiply_div_255(int a, int b) {
  const int product = a * b + 128;
  return ((product >> 8) + product) >> 8;
}

// Adobe CMYK JPEGs store inverted values; PIL reads every CMYK JPEG as "CMYK;I" (inverting),
// then converts with cmyk2rgb: channel = (255 - k) - (channel * (255 - k)) / 255.
void adobe_cmyk_to_rgb(const std::vector<uint8_t>& stored, ImageU8& image) {
  const size_t pixels = stored.size() / 4;
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* in = &stored[4 * i];
    const int not_black = in[3];  // 255 - (255 - stored k)
    for (int c = 0; c < 3; ++c) {
      const int ink = 255 - in[c];
      image.rgb[3 * i + c] = static_cast<uint8_t>(not_black - multiply_div_255(ink, not_black));
    }
  }
}

}  // namespace

ImageU8 decode_jpeg(const uint8_t* bytes, size_t size, const std::string& label, int64_t max_pixels) {
  JpegDecoder decoder;
  if (!read_header(decoder, bytes, size)) decoder.fail_with_libjpeg_message(label);
  check_dimensions(decoder.info.output_width, decoder.info.output_height, max_pixels, label);

  ImageU8 image;
  image.width = int(decoder.info.output_width);
  image.height = int(decoder.info.output_height);
  image.rgb.resize(size_t(image.width) * size_t(image.height) * 3);
  const int components = decoder.info.output_components;
  if (components == 3) {
    if (!read_scanlines(decoder, image.rgb.data())) decoder.fail_with_libjpeg_message(label);
    return image;
  }
  std::vector<uint8_t> decoded(size_t(image.width) * size_t(image.height) * size_t(components));
  if (!read_scanlines(decoder, decoded.data())) decoder.fail_with_libjpeg_message(label);
  if (components == 1) {
    gray_to_rgb(decoded, image);
  } else {
    adobe_cmyk_to_rgb(decoded, image);
  }
  return image;
}

}  // namespace distrvit::image_detail
