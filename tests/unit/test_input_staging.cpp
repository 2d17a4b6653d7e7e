// The host side of the GPU input: fp16 / bf16 encoding (round to nearest even) and the patch unfolding.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "float16.h"
#include "patch_staging.h"

using namespace distrvit;

namespace {

bool is_f16_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool is_bf16_nan(uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0; }

float next_up(float v) { return std::nextafter(v, INFINITY); }
float next_down(float v) { return std::nextafter(v, -INFINITY); }

// For every pair of adjacent non-negative finite values a < b of the format: a and b encode to themselves, their
// midpoint to the even one of the two, and the floats just beside the midpoint to the nearer one.
template <typename Encode, typename Decode>
void check_rounding(uint16_t largest_finite, Encode encode, Decode decode) {
  int failures = 0;
  for (uint32_t h = 0; h < largest_finite; ++h) {
    const float a = decode(uint16_t(h)), b = decode(uint16_t(h + 1));
    const float mid = float((double(a) + double(b)) / 2);  // exact: one bit more than the format has
    const uint16_t even = (h % 2 == 0) ? uint16_t(h) : uint16_t(h + 1);
    failures += encode(a) != h;
    failures += encode(-a) != (h | 0x8000u) && h != 0;  // -0 keeps its sign bit too, checked below
    failures += encode(mid) != even;
    failures += encode(next_down(mid)) != h;
    failures += encode(next_up(mid)) != h + 1;
  }
  CHECK(failures == 0);
}

}  // namespace

TEST_CASE("float16: fp16 encoding rounds to nearest even, subnormals, overflow and NaN included") {
  check_rounding(0x7bffu, float_to_f16, f16_to_float);
  CHECK(float_to_f16(-0.0f) == 0x8000u);
  CHECK(float_to_f16(65504.0f) == 0x7bffu);
  CHECK(float_to_f16(next_down(65520.0f)) == 0x7bffu);
  CHECK(float_to_f16(65520.0f) == 0x7c00u);  // the midpoint to 65536 ties to even, which is infinity
  CHECK(float_to_f16(-1e9f) == 0xfc00u);
  CHECK(float_to_f16(INFINITY) == 0x7c00u);
  CHECK(float_to_f16(0x1p-25f) == 0u);       // half the smallest subnormal: ties to zero
  CHECK(float_to_f16(next_up(0x1p-25f)) == 1u);
  CHECK(float_to_f16(1e-30f) == 0u);
  CHECK(is_f16_nan(float_to_f16(NAN)));
}

TEST_CASE("float16: bf16 encoding rounds to nearest even, overflow and NaN included") {
  check_rounding(0x7f7fu, float_to_bf16, bf16_to_float);
  CHECK(float_to_bf16(3.4028235e38f) == 0x7f80u);  // FLT_MAX rounds up to infinity
  CHECK(float_to_bf16(-INFINITY) == 0xff80u);
  CHECK(is_bf16_nan(float_to_bf16(NAN)));
  CHECK(is_bf16_nan(float_to_bf16(-NAN)));
}

TEST_CASE("float16: the block encoders equal the scalar ones at every width, strides respected") {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 3000.0f);
  const int rows = 3;
  for (size_t cols : {size_t(0), size_t(1), size_t(7), size_t(8), size_t(29), size_t(1000)}) {
    const ptrdiff_t src_stride = ptrdiff_t(cols) + 5, dst_stride = ptrdiff_t(cols) + 3;  // gaps between runs
    std::vector<float> values(rows * src_stride);
    for (float& v : values) v = dist(rng) * (rng() % 3 == 0 ? 1e-6f : 1.0f);
    if (cols > 3) values[src_stride + 3] = NAN;
    std::vector<uint16_t> f16(rows * dst_stride, 0xabcdu), bf16(rows * dst_stride, 0xabcdu);
    float_rows_to_f16(values.data(), src_stride, f16.data(), dst_stride, rows, cols);
    float_rows_to_bf16(values.data(), src_stride, bf16.data(), dst_stride, rows, cols);
    int mismatches = 0;
    for (int r = 0; r < rows; ++r) {
      for (size_t i = 0; i < size_t(dst_stride); ++i) {
        const uint16_t h = f16[r * dst_stride + i], b = bf16[r * dst_stride + i];
        if (i >= cols) {  // the gap after each run stays untouched
          mismatches += h != 0xabcdu || b != 0xabcdu;
          continue;
        }
        const float v = values[r * src_stride + i];
        if (std::isnan(v)) {
          mismatches += !is_f16_nan(h) || !is_bf16_nan(b);
          continue;
        }
        mismatches += h != float_to_f16(v) || b != float_to_bf16(v);
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("float16: stage_patches unfolds images into patch rows in each precision") {
  const int channels = 2, height = 48, width = 32, patch = 16, gh = height / patch, gw = width / patch;
  const int row_len = channels * patch * patch;
  for (const int batch : {1, 9}) {  // 9 images on 2 threads: the threaded path
    std::mt19937 rng(batch);
    std::normal_distribution<float> dist(0.0f, 2.0f);
    std::vector<float> images(size_t(batch) * channels * height * width);
    for (float& v : images) v = dist(rng);
    std::vector<float> f32(size_t(batch) * gh * gw * row_len, NAN);
    std::vector<uint16_t> f16(f32.size(), 0xffffu), bf16(f32.size(), 0xffffu);
    stage_patches(images.data(), f32.data(), Precision::F32, batch, channels, height, width, patch, 2);
    stage_patches(images.data(), f16.data(), Precision::F16, batch, channels, height, width, patch, 2);
    stage_patches(images.data(), bf16.data(), Precision::BF16, batch, channels, height, width, patch, 2);
    int mismatches = 0;
    for (int b = 0; b < batch; ++b)
      for (int c = 0; c < channels; ++c)
        for (int y = 0; y < height; ++y)
          for (int x = 0; x < width; ++x) {
            const float v = images[((size_t(b) * channels + c) * height + y) * width + x];
            const size_t row = size_t(b) * gh * gw + (y / patch) * gw + x / patch;
            const size_t at = row * row_len + c * patch * patch + (y % patch) * patch + x % patch;
            mismatches += f32[at] != v || f16[at] != float_to_f16(v) || bf16[at] != float_to_bf16(v);
          }
    CHECK(mismatches == 0);
  }
}
