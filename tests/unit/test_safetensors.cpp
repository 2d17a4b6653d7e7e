#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "distrvit/error.h"
#include "distrvit/safetensors.h"
#include "test_util.h"

using distrvit::DType;
using distrvit::Error;
using distrvit::SafetensorsFile;
using distrvit::Tensor;
using distrvit::TensorToWrite;
using distrvit::test::TempDir;

namespace {

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::string le_u64(uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

// A safetensors file made by hand: length prefix, header text, data bytes.
std::string crafted(const std::string& header, const std::string& data = "") {
  return le_u64(header.size()) + header + data;
}

void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The message of the Error that opening `path` throws, or "" when it opens.
std::string open_error(const std::string& path) {
  try {
    SafetensorsFile file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

template <typename Action>
std::string error_of(Action action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// One line, "<path>: ...<problem>...".
void check_error(const std::string& message, const std::string& path, const std::string& problem) {
  INFO("message: " << message);
  CHECK(message.rfind(path + ": ", 0) == 0);
  CHECK(message.find(problem) != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}

float bits_to_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Tensors of every dtype, with the float32 each value converts to.
struct DTypeCase {
  TensorToWrite tensor;
  std::vector<float> expected;
};

std::vector<DTypeCase> every_dtype_cases() {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<DTypeCase> cases;
  const std::vector<float> f32 = {0.0f, -0.0f, 1e-40f, -1.5f, 3.25e30f, inf};
  cases.push_back({{"f32", DType::F32, {2, 3}, bytes_of(f32)}, f32});
  // F16: zero, -zero, smallest subnormal, largest subnormal, smallest normal, 1, -2, largest, +-inf, nan.
  const std::vector<uint16_t> f16 = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00,
                                     0xc000, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x8001};
  cases.push_back({{"f16", DType::F16, {12}, bytes_of(f16)},
                   {0.0f, -0.0f, std::ldexp(1.0f, -24), std::ldexp(1023.0f, -24), std::ldexp(1.0f, -14), 1.0f,
                    -2.0f, 65504.0f, inf, -inf, nan, -std::ldexp(1.0f, -24)}});
  // BF16: zero, smallest and largest subnormal, smallest normal, 1, -3, largest, +-inf, nan.
  const std::vector<uint16_t> bf16 = {0x0000, 0x0001, 0x007f, 0x0080, 0x3f80, 0xc040, 0x7f7f, 0x7f80, 0xff80, 0x7fc0};
  cases.push_back({{"bf16", DType::BF16, {2, 5}, bytes_of(bf16)},
                   {0.0f, std::ldexp(1.0f, -133), std::ldexp(127.0f, -133), std::ldexp(1.0f, -126), 1.0f, -3.0f,
                    bits_to_float(0x7f7f0000), inf, -inf, nan}});
  const std::vector<double> f64 = {0.1, -2.5, 1e300};
  cases.push_back({{"f64", DType::F64, {3}, bytes_of(f64)}, {0.1f, -2.5f, inf}});
  const std::vector<uint8_t> u8 = {0, 1, 128, 255};
  cases.push_back({{"u8", DType::U8, {2, 2}, u8}, {0.0f, 1.0f, 128.0f, 255.0f}});
  const std::vector<int32_t> i32 = {std::numeric_limits<int32_t>::min(), 0, 123456};
  cases.push_back({{"i32", DType::I32, {3, 1}, bytes_of(i32)}, {-2147483648.0f, 0.0f, 123456.0f}});
  const std::vector<int64_t> i64 = {-(int64_t(1) << 40), 7};
  cases.push_back({{"i64", DType::I64, {2}, bytes_of(i64)}, {-1099511627776.0f, 7.0f}});
  cases.push_back({{"scalar", DType::F32, {}, bytes_of(std::vector<float>{3.5f})}, {3.5f}});
  cases.push_back({{"empty", DType::F32, {0, 5}, {}}, {}});
  return cases;
}

void check_same_floats(const std::vector<float>& actual, const std::vector<float>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i << ": " << actual[i] << " expected " << expected[i]);
    if (std::isnan(expected[i])) {
      CHECK(std::isnan(actual[i]));
    } else {
      CHECK(actual[i] == expected[i]);
      CHECK(std::signbit(actual[i]) == std::signbit(expected[i]));
    }
  }
}

void check_reads_back(const SafetensorsFile& file, const std::vector<DTypeCase>& cases) {
  REQUIRE(file.tensors().size() == cases.size());
  for (const DTypeCase& c : cases) {
    INFO("tensor " << c.tensor.name);
    REQUIRE(file.has(c.tensor.name));
    const distrvit::TensorInfo& info = file.info(c.tensor.name);
    CHECK(info.dtype == c.tensor.dtype);
    CHECK(info.shape == c.tensor.shape);
    REQUIRE(info.end - info.begin == c.tensor.bytes.size());
    CHECK(std::equal(c.tensor.bytes.begin(), c.tensor.bytes.end(), file.raw(info)));
    const Tensor floats = file.to_float(c.tensor.name);
    CHECK(floats.shape == c.tensor.shape);
    check_same_floats(floats.data, c.expected);
  }
}

std::vector<TensorToWrite> tensors_of(const std::vector<DTypeCase>& cases) {
  std::vector<TensorToWrite> tensors;
  for (const DTypeCase& c : cases) tensors.push_back(c.tensor);
  return tensors;
}

}  // namespace

TEST_CASE("safetensors: shape_string") {
  CHECK(distrvit::shape_string({2, 3, 224, 224}) == "[2,3,224,224]");
  CHECK(distrvit::shape_string({}) == "[]");
  CHECK(distrvit::shape_string({0}) == "[0]");
}

TEST_CASE("safetensors: dtype names and sizes") {
  CHECK(std::string(distrvit::dtype_name(DType::BF16)) == "BF16");
  CHECK(distrvit::dtype_size(DType::F16) == 2);
  CHECK(distrvit::dtype_size(DType::F64) == 8);
  CHECK(distrvit::dtype_size(DType::U8) == 1);
  CHECK(distrvit::dtype_size(DType::I32) == 4);
  CHECK(distrvit::dtype_size(DType::I64) == 8);
}

TEST_CASE("safetensors: round trip of every dtype with metadata") {
  TempDir dir;
  const std::string path = (dir / "all.safetensors").string();
  const std::vector<DTypeCase> cases = every_dtype_cases();
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "h\xc3\xa9llo"}};
  distrvit::write_safetensors(path, tensors_of(cases), metadata);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

  SafetensorsFile file(path);
  CHECK(file.path() == path);
  CHECK(file.metadata() == metadata);
  check_reads_back(file, cases);
}

TEST_CASE("safetensors: unaligned in-memory data converts correctly") {
  TempDir dir;
  const std::string path = (dir / "all.safetensors").string();
  const std::vector<DTypeCase> cases = every_dtype_cases();
  distrvit::write_safetensors(path, tensors_of(cases));
  const std::string contents = read_file(path);
  std::vector<uint8_t> shifted(contents.size() + 1);
  std::memcpy(shifted.data() + 1, contents.data(), contents.size());  // every tensor now starts at an odd address

  const auto file = SafetensorsFile::from_memory(shifted.data() + 1, contents.size(), "shifted");
  CHECK(file->path() == "shifted");
  CHECK(file->metadata().empty());
  check_reads_back(*file, cases);
}

TEST_CASE("safetensors: written layout has sorted keys and aligned data") {
  TempDir dir;
  const std::string path = (dir / "layout.safetensors").string();
  write_file(path, "old contents");
  Tensor tensor({2, 2});
  tensor.data = {1.0f, 2.0f, 3.0f, 4.0f};
  distrvit::write_safetensors(path, {distrvit::f32_tensor("zeta", tensor), distrvit::f32_tensor("alpha", tensor)},
                              {{"k", "v"}});

  const std::string contents = read_file(path);
  uint64_t header_size = 0;
  std::memcpy(&header_size, contents.data(), 8);
  CHECK(header_size % 8 == 0);
  REQUIRE(contents.size() == 8 + header_size + 2 * 16);
  const std::string header = contents.substr(8, header_size);
  const size_t metadata_at = header.find("\"__metadata__\"");
  const size_t alpha_at = header.find("\"alpha\"");
  const size_t zeta_at = header.find("\"zeta\"");
  CHECK(metadata_at < alpha_at);
  CHECK(alpha_at < zeta_at);
  CHECK(header.find("\"data_offsets\":[0,16]") > alpha_at);
  CHECK(header.find_last_not_of(' ') == header.rfind('}'));

  SafetensorsFile file(path);
  CHECK(file.info("alpha").begin == 0);
  CHECK(file.info("zeta").begin == 16);
  CHECK(file.to_float("zeta").data == tensor.data);
  CHECK(file.to_float("zeta").shape == tensor.shape);
}

TEST_CASE("safetensors: write failures name the path and leave no file") {
  TempDir dir;
  const std::string missing_dir_path = (dir / "no-such-dir" / "out.safetensors").string();
  const TensorToWrite good{"w", DType::F32, {2}, bytes_of(std::vector<float>{1.0f, 2.0f})};
  check_error(error_of([&] { distrvit::write_safetensors(missing_dir_path, {good}); }), missing_dir_path,
              "cannot create " + missing_dir_path + ".tmp: No such file or directory");

  const std::string path = (dir / "out.safetensors").string();
  const TensorToWrite short_bytes{"w", DType::F32, {3}, bytes_of(std::vector<float>{1.0f, 2.0f})};
  check_error(error_of([&] { distrvit::write_safetensors(path, {short_bytes}); }), path,
              "tensor w of shape [3] and dtype F32 needs 12 bytes but has 8");
  check_error(error_of([&] { distrvit::write_safetensors(path, {good, good}); }), path, "duplicate tensor w");
  const TensorToWrite negative{"w", DType::U8, {-1}, {}};
  check_error(error_of([&] { distrvit::write_safetensors(path, {negative}); }), path, "negative dimension -1");
  const TensorToWrite reserved{"__metadata__", DType::U8, {0}, {}};
  check_error(error_of([&] { distrvit::write_safetensors(path, {reserved}); }), path, "__metadata__ is reserved");
  const TensorToWrite not_utf8{"w\xff", DType::U8, {0}, {}};
  check_error(error_of([&] { distrvit::write_safetensors(path, {not_utf8}); }), path, "cannot encode header: ");
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("safetensors: reads the F16 DeiT-S golden model") {
  const std::string path = (distrvit::test::golden_dir("deit_small_patch16_224") / "model.safetensors").string();
  REQUIRE(std::filesystem::exists(path));
  SafetensorsFile file(path);
  CHECK(file.tensors().size() == 152);
  CHECK(file.info("cls_token").shape == std::vector<int64_t>{1, 1, 384});
  CHECK(file.info("patch_embed.proj.weight").shape == std::vector<int64_t>{384, 3, 16, 16});
  CHECK(file.info("head.weight").shape == std::vector<int64_t>{1000, 384});
  CHECK(file.info("blocks.0.attn.qkv.weight").shape == std::vector<int64_t>{1152, 384});
  CHECK(file.to_float("cls_token").data[0] == -0.39306640625f);
  CHECK(file.to_float("cls_token").data[2] == 0.68310546875f);
  CHECK(file.to_float("norm.weight").data[1] == 0.9375f);

  // Totals computed independently with Python's struct module (IEEE half decoding).
  int64_t elements = 0;
  int64_t subnormals = 0;
  double absolute_sum = 0.0;
  for (const distrvit::TensorInfo& info : file.tensors()) {
    CHECK(info.dtype == DType::F16);
    for (float value : file.to_float(info.name).data) {
      if (value != 0.0f && std::fabs(value) < std::ldexp(1.0f, -14)) ++subnormals;
      absolute_sum += std::fabs(value);
    }
    elements += Tensor::count(info.shape);
  }
  CHECK(elements == 22050664);
  CHECK(subnormals == 26771);
  CHECK(absolute_sum == doctest::Approx(858499.630854547).epsilon(1e-9));
}

TEST_CASE("safetensors: reads golden outputs in F32, F64 and U8") {
  const std::string path = (distrvit::test::golden_dir("deit_small_patch16_224") / "golden.safetensors").string();
  REQUIRE(std::filesystem::exists(path));
  SafetensorsFile file(path);
  CHECK(file.info("pixels").dtype == DType::U8);
  CHECK(file.info("pixels").shape == std::vector<int64_t>{16, 224, 224, 3});
  CHECK(file.info("input").shape == std::vector<int64_t>{16, 3, 224, 224});
  CHECK(file.info("logits").dtype == DType::F32);
  CHECK(file.info("logits_f64").dtype == DType::F64);
  CHECK(file.info("logits_f64").shape == std::vector<int64_t>{16, 1000});

  const Tensor pixels = file.to_float("pixels");
  CHECK(std::vector<float>(pixels.data.begin(), pixels.data.begin() + 4) == std::vector<float>{23, 23, 23, 30});
  const Tensor logits = file.to_float("logits");
  const Tensor logits_f64 = file.to_float("logits_f64");
  REQUIRE(logits.numel() == logits_f64.numel());
  float max_difference = 0.0f;
  for (int64_t i = 0; i < logits.numel(); ++i) {
    max_difference = std::max(max_difference, std::fabs(logits.data[i] - logits_f64.data[i]));
  }
  CHECK(max_difference < 1e-6f);
  CHECK(logits.data[0] == doctest::Approx(-0.29646649956703186));
}

TEST_CASE("safetensors: missing, empty, short and unknown-tensor errors") {
  TempDir dir;
  const std::string missing = (dir / "missing.safetensors").string();
  CHECK(open_error(missing) == missing + ": cannot open: No such file or directory");

  const std::string empty = (dir / "empty.safetensors").string();
  write_file(empty, "");
  CHECK(open_error(empty) == empty + ": file is empty");

  const std::string short_file = (dir / "short.safetensors").string();
  write_file(short_file, "abcde");
  check_error(open_error(short_file), short_file, "file is too short (5 bytes)");

  CHECK(open_error(dir.path().string()) == dir.path().string() + ": not a regular file");

  const std::string path = (dir / "ok.safetensors").string();
  distrvit::write_safetensors(path, {{"w", DType::U8, {1}, {7}}});
  SafetensorsFile file(path);
  CHECK_FALSE(file.has("v"));
  check_error(error_of([&] { file.info("v"); }), path, "no tensor named v");
  check_error(error_of([&] { file.to_float("v"); }), path, "no tensor named v");

  check_error(error_of([] { SafetensorsFile::from_memory(nullptr, 0, "buffer"); }), "buffer", "file is empty");
}

TEST_CASE("safetensors: malformed headers are rejected naming the file and the problem") {
  struct BadFile {
    const char* what;
    std::string contents;
    std::string problem;
  };
  const std::string eight_bytes(8, '\0');
  const std::vector<BadFile> cases = {
      {"header length past end", le_u64(1000) + "{}", "header length 1000 runs past the end of the file (10 bytes)"},
      {"absurd header length", le_u64(uint64_t(1) << 40) + "{}", "header length 1099511627776 is absurd"},
      {"header not JSON", crafted("{\"w\": {\"dtype\": "), "header is not valid JSON: "},
      {"header not UTF-8", crafted("{\"\xff\": 1}"), "header is not valid JSON: "},
      {"header not an object", crafted("[1, 2]"), "header is not a JSON object: [1,2]"},
      {"entry not an object", crafted(R"({"w": 3})"), "entry of tensor w is not a JSON object: 3"},
      {"missing dtype", crafted(R"({"w": {"shape": [1], "data_offsets": [0, 1]}})", "x"), "tensor w has no dtype"},
      {"dtype not a string", crafted(R"({"w": {"dtype": 4, "shape": [], "data_offsets": [0, 4]}})", "abcd"),
       "dtype of tensor w is not a string: 4"},
      {"unsupported dtype", crafted(R"({"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}})", "x"),
       "unsupported dtype F8_E4M3 of tensor w"},
      {"missing shape", crafted(R"({"w": {"dtype": "U8", "data_offsets": [0, 1]}})", "x"), "tensor w has no shape"},
      {"shape not an array", crafted(R"({"w": {"dtype": "U8", "shape": 1, "data_offsets": [0, 1]}})", "x"),
       "shape of tensor w is not an array: 1"},
      {"fractional dimension", crafted(R"({"w": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 1]}})", "x"),
       "shape of tensor w must hold integers: [1.5]"},
      {"negative dimension", crafted(R"({"w": {"dtype": "U8", "shape": [-2, 3], "data_offsets": [0, 6]}})", "abcdef"),
       "negative dimension -2 in shape [-2,3] of tensor w"},
      {"huge dimension", crafted(R"({"w": {"dtype": "U8", "shape": [18446744073709551615], "data_offsets": [0, 1]}})",
                                 "x"),
       "dimension 18446744073709551615 of tensor w is too large"},
      {"shape overflows",
       crafted(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})", "abcd"),
       "shape [4294967296,4294967296] of tensor w is too large"},
      {"missing offsets", crafted(R"({"w": {"dtype": "U8", "shape": [1]}})", "x"), "tensor w has no data_offsets"},
      {"three offsets", crafted(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1, 2]}})", "xy"),
       "data_offsets of tensor w must be two non-negative integers: [0,1,2]"},
      {"negative offset", crafted(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [-1, 0]}})", "x"),
       "data_offsets of tensor w must be two non-negative integers: [-1,0]"},
      {"offsets reversed", crafted(R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [1, 0]}})", "x"),
       "data_offsets [1, 0] of tensor w begin after they end"},
      {"offsets out of range", crafted(R"({"w": {"dtype": "U8", "shape": [4], "data_offsets": [100, 104]}})", "abcd"),
       "data_offsets [100, 104] of tensor w run past the end of the data section (4 bytes; truncated file?)"},
      {"truncated data", crafted(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", eight_bytes),
       "data_offsets [0, 16] of tensor w run past the end of the data section (8 bytes; truncated file?)"},
      {"size mismatch", crafted(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", eight_bytes),
       "tensor w of shape [3] and dtype F32 needs 12 bytes but its data_offsets [0, 8] span 8"},
      {"overlapping offsets",
       crafted(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
               R"( "b": {"dtype": "U8", "shape": [2], "data_offsets": [3, 5]}})",
               eight_bytes),
       "tensors a [0, 4] and b [3, 5] overlap"},
      {"duplicate tensor",
       crafted(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
               R"( "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
               "xy"),
       "header has duplicate key w"},
      {"metadata not an object", crafted(R"({"__metadata__": [1]})"), "__metadata__ is not a JSON object: [1]"},
      {"metadata value not a string", crafted(R"({"__metadata__": {"epoch": 3}})"),
       "__metadata__ value of key epoch is not a string: 3"},
      {"control characters in a name",
       crafted("{\"a\\nb\": {\"dtype\": \"Q\", \"shape\": [], \"data_offsets\": [0, 0]}}"),
       "unsupported dtype Q of tensor a\\x0ab"},
  };
  TempDir dir;
  for (const BadFile& bad : cases) {
    INFO("case: " << bad.what);
    const std::string path = (dir / "bad.safetensors").string();
    write_file(path, bad.contents);
    check_error(open_error(path), path, bad.problem);
    const auto* bytes = reinterpret_cast<const uint8_t*>(bad.contents.data());
    check_error(error_of([&] { SafetensorsFile::from_memory(bytes, bad.contents.size(), "memory"); }), "memory",
                bad.problem);
  }
}

TEST_CASE("safetensors: zero-size tensors and gaps are accepted") {
  const std::string contents = crafted(
      R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
      R"( "empty": {"dtype": "F16", "shape": [0, 7], "data_offsets": [2, 2]},)"
      R"( "b": {"dtype": "U8", "shape": [2], "data_offsets": [6, 8]}})",
      std::string("\0\0\x80\x3f..\x05\x06", 8));
  const auto file =
      SafetensorsFile::from_memory(reinterpret_cast<const uint8_t*>(contents.data()), contents.size(), "memory");
  CHECK(file->tensors().size() == 3);
  CHECK(file->to_float("a").data == std::vector<float>{1.0f});
  CHECK(file->to_float("empty").numel() == 0);
  CHECK(file->to_float("b").data == std::vector<float>{5.0f, 6.0f});
}
