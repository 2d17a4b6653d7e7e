// Internal to the image decoders: one function per codec, all returning 8-bit RGB as PIL's
// convert('RGB') would, and all throwing Error("<label>: <problem>").
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "distrvit/image.h"

namespace distrvit::image_detail {

enum class ImageFormat { Jpeg, Png, Bmp, Gif, Pnm, Tga, Unknown };

const char* format_name(ImageFormat format);

// Detection by content (magic bytes; TGA, which has none, by a plausible header).
ImageFormat detect_format(const uint8_t* bytes, size_t size);

// Throws "<label>: image too large: WxH pixels" (or "has zero width or height") before any pixel
// buffer is allocated.
void check_dimensions(int64_t width, int64_t height, int64_t max_pixels, const std::string& label);

ImageU8 decode_jpeg(const uint8_t* bytes, size_t size, const std::string& label, int64_t max_pixels);
ImageU8 decode_png(const uint8_t* bytes, size_t size, const std::string& label, int64_t max_pixels);
// Binary PGM/PPM (P5/P6), scaled by maxval as PIL scales them.
ImageU8 decode_pnm(const uint8_t* bytes, size_t size, const std::string& label, int64_t max_pixels);
// BMP, GIF (first frame) and TGA through stb_image.
ImageU8 decode_with_stb(const uint8_t* bytes, size_t size, ImageFormat format, const std::string& label,
                        int64_t max_pixels);

}  // namespace distrvit::image_detail
