// BatchLoader in both modes over a few PNG files: preprocessed tensors and decoded images, in order and in batches.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "distrvit/batch_loader.h"
#include "distrvit/error.h"
#include "distrvit/image.h"
#include "distrvit/preprocess.h"
#include "test_util.h"

namespace distrvit {
namespace {

ImageU8 gradient(int width, int height, int seed) {
  ImageU8 image;
  image.width = width;
  image.height = height;
  for (int i = 0; i < width * height * 3; ++i) image.rgb.push_back(uint8_t((i * 7 + seed * 31) % 256));
  return image;
}

TEST_CASE("batch loader: decoded mode hands out the decoded images of each batch in order") {
  test::TempDir dir;
  std::vector<std::string> paths;
  std::vector<ImageU8> images;
  for (int i = 0; i < 5; ++i) {
    images.push_back(gradient(9 + i, 13 - i, i));
    paths.push_back((dir / ("image" + std::to_string(i) + ".png")).string());
    write_png(paths.back(), images.back());
  }
  PreprocessConfig config;
  config.input_height = config.input_width = 16;

  BatchLoader decoding(paths, config, 2, 2, BatchContent::Decoded);
  std::vector<ImageU8> batch;
  size_t first = 0;
  std::vector<size_t> firsts;
  std::vector<ImageU8> seen;
  while (decoding.next(batch, first)) {
    firsts.push_back(first);
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  CHECK(firsts == std::vector<size_t>{0, 2, 4});
  REQUIRE(seen.size() == images.size());
  for (size_t i = 0; i < images.size(); ++i) CHECK(seen[i].rgb == images[i].rgb);

  BatchLoader preprocessing(paths, config, 3, 2);
  Tensor input;
  REQUIRE(preprocessing.next(input, first));
  CHECK(input.shape == std::vector<int64_t>{3, 3, 16, 16});
  const Tensor expected = preprocess(images[1], config);
  CHECK(std::equal(expected.data.begin(), expected.data.end(), input.data.begin() + expected.numel()));
  CHECK_THROWS_WITH_AS(preprocessing.next(batch, first), doctest::Contains("decoded images"), Error);

  BatchLoader missing({(dir / "missing.png").string()}, config, 1, 1, BatchContent::Decoded);
  CHECK_THROWS_WITH_AS(missing.next(batch, first), doctest::Contains("missing.png"), Error);
}

}  // namespace
}  // namespace distrvit
