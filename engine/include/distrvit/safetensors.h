// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length, a JSON header, then the raw tensor bytes.
// Files are memory-mapped; every header is fully validated before any tensor is touched.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "distrvit/tensor.h"

namespace distrvit {

enum class DType { F32, F16, BF16, F64, U8, I64, I32 };

const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  size_t begin = 0;  // byte offsets inside the data section
  size_t end = 0;
};

class SafetensorsFile {
 public:
  // Throws Error("<path>: <problem>") for a missing, truncated or malformed file.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  // Parses an in-memory buffer (used by the fuzzer); `label` names it in errors. The buffer must outlive the object.
  static std::unique_ptr<SafetensorsFile> from_memory(const uint8_t* bytes, size_t size, const std::string& label);

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool has(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws naming the file and tensor
  const uint8_t* raw(const TensorInfo& info) const;

  // Converts F32/F16/BF16/F64/U8/I32/I64 to float32.
  Tensor to_float(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  void parse(const std::string& label);

  std::string path_;
  const uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
  size_t data_offset_ = 0;
  void* mapping_ = nullptr;  // non-null when memory-mapped
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

TensorToWrite f32_tensor(const std::string& name, const Tensor& tensor);

// Writes to "<path>.tmp" and renames it over `path`, so a failure never leaves a partial file.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace distrvit
