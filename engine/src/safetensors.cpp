#include "distrvit/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "distrvit/error.h"
#include "float16.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; so must the host be");

namespace distrvit {
namespace {

using json = nlohmann::json;

constexpr size_t kLengthPrefixBytes = 8;
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr char kMetadataKey[] = "__metadata__";
constexpr DType kAllDTypes[] = {DType::F32, DType::F16, DType::BF16, DType::F64, DType::U8, DType::I64, DType::I32};

std::optional<DType> dtype_from_name(const std::string& name) {
  for (DType dtype : kAllDTypes) {
    if (name == dtype_name(dtype)) return dtype;
  }
  return std::nullopt;
}

// Text taken from the file with the bytes that `keep` rejects written as \xNN.
template <typename Keep>
std::string escaped(const std::string& text, Keep keep) {
  std::string shown;
  for (unsigned char c : text) {
    if (keep(c)) {
      shown += static_cast<char>(c);
    } else {
      shown += fmt::format("\\x{:02x}", c);
    }
  }
  return shown;
}

// Tensor names and metadata keys (valid UTF-8, checked by the JSON parser) with control characters escaped,
// so that an error message stays on one line.
std::string printable(const std::string& text) {
  return escaped(text, [](unsigned char c) { return c >= 0x20 && c != 0x7f; });
}

// A JSON parser message, which quotes raw (possibly invalid UTF-8) input: ASCII only, without its
// "[json.exception.parse_error.101] " prefix.
std::string parser_message(const json::exception& error) {
  std::string message = error.what();
  const size_t prefix_end = message.find("] ");
  if (message.rfind("[json.exception.", 0) == 0 && prefix_end != std::string::npos) {
    message.erase(0, prefix_end + 2);
  }
  return escaped(message, [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
}

// A JSON value as compact text for an error message, cut short when long.
std::string excerpt(const json& value) {
  constexpr size_t kMaxChars = 60;
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxChars) text = text.substr(0, kMaxChars) + "...";
  return printable(text);
}

uint64_t read_u64_le(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// Reads `count` values of type Source from possibly unaligned bytes and stores convert(value) as float.
template <typename Source, typename Convert>
void convert_each(const uint8_t* bytes, size_t count, float* out, Convert convert) {
  for (size_t i = 0; i < count; ++i) {
    Source value;
    std::memcpy(&value, bytes + i * sizeof(Source), sizeof(Source));
    out[i] = convert(value);
  }
}

template <typename Source>
void cast_each(const uint8_t* bytes, size_t count, float* out) {
  convert_each<Source>(bytes, count, out, [](Source value) { return static_cast<float>(value); });
}

// ---- memory mapping ----

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Mapping {
  void* address;
  size_t size;
};

Mapping map_read_only(const std::string& path) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) fail(path, "cannot open: {}", std::strerror(errno));
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) fail(path, "cannot stat: {}", std::strerror(errno));
  if (!S_ISREG(status.st_mode)) fail(path, "not a regular file");
  if (status.st_size == 0) fail(path, "file is empty");
  const auto size = static_cast<size_t>(status.st_size);
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.get(), 0);
  if (address == MAP_FAILED) fail(path, "cannot memory-map: {}", std::strerror(errno));
  return {address, size};
}

// ---- header validation ----

// Parses the header JSON. Duplicate keys are rejected at every depth: the DOM would silently keep the last one.
json parse_header_json(const std::string& label, const char* begin, const char* end) {
  std::vector<std::set<std::string>> keys_by_depth(1);
  auto reject_duplicate_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    const auto level = static_cast<size_t>(depth);
    if (event == json::parse_event_t::object_start) {
      if (keys_by_depth.size() < level + 2) keys_by_depth.resize(level + 2);
      keys_by_depth[level + 1].clear();
    } else if (event == json::parse_event_t::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!keys_by_depth[level].insert(key).second) fail(label, "header has duplicate key {}", printable(key));
    }
    return true;
  };
  try {
    return json::parse(begin, end, reject_duplicate_keys);
  } catch (const json::exception& e) {
    fail(label, "header is not valid JSON: {}", parser_message(e));
  }
}

DType parse_dtype(const std::string& label, const std::string& name, const json& entry) {
  const auto found = entry.find("dtype");
  if (found == entry.end()) fail(label, "tensor {} has no dtype", name);
  if (!found->is_string()) fail(label, "dtype of tensor {} is not a string: {}", name, excerpt(*found));
  const auto& text = found->get_ref<const std::string&>();
  const auto dtype = dtype_from_name(text);
  if (!dtype) fail(label, "unsupported dtype {} of tensor {}", printable(text), name);
  return *dtype;
}

std::vector<int64_t> parse_shape(const std::string& label, const std::string& name, const json& entry) {
  const auto found = entry.find("shape");
  if (found == entry.end()) fail(label, "tensor {} has no shape", name);
  if (!found->is_array()) fail(label, "shape of tensor {} is not an array: {}", name, excerpt(*found));
  std::vector<int64_t> shape;
  for (const json& dim : *found) {
    if (!dim.is_number_integer()) {
      fail(label, "shape of tensor {} must hold integers: {}", name, excerpt(*found));
    }
    if (dim.is_number_unsigned() && dim.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
      fail(label, "dimension {} of tensor {} is too large", dim.get<uint64_t>(), name);
    }
    const auto size = dim.get<int64_t>();
    if (size < 0) fail(label, "negative dimension {} in shape {} of tensor {}", size, excerpt(*found), name);
    shape.push_back(size);
  }
  return shape;
}

std::pair<size_t, size_t> parse_offsets(const std::string& label, const std::string& name, const json& entry,
                                        size_t data_size) {
  const auto found = entry.find("data_offsets");
  if (found == entry.end()) fail(label, "tensor {} has no data_offsets", name);
  const json& offsets = *found;
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    fail(label, "data_offsets of tensor {} must be two non-negative integers: {}", name, excerpt(offsets));
  }
  const auto begin = offsets[0].get<uint64_t>();
  const auto end = offsets[1].get<uint64_t>();
  if (begin > end) fail(label, "data_offsets [{}, {}] of tensor {} begin after they end", begin, end, name);
  if (end > data_size) {
    fail(label, "data_offsets [{}, {}] of tensor {} run past the end of the data section ({} bytes; truncated file?)",
         begin, end, name, data_size);
  }
  return {static_cast<size_t>(begin), static_cast<size_t>(end)};
}

// Bytes that `shape` of `dtype` occupies. The element count is multiplied left to right, as Tensor::count does,
// and rejected as soon as it could overflow, so any accepted shape can be allocated without overflow.
size_t expected_bytes(const std::string& label, const std::string& name, DType dtype,
                      const std::vector<int64_t>& shape) {
  const uint64_t max_elements = std::numeric_limits<int64_t>::max() / dtype_size(dtype);
  uint64_t elements = 1;
  for (int64_t dim : shape) {
    const auto size = static_cast<uint64_t>(dim);
    if (size != 0 && elements > max_elements / size) {
      fail(label, "shape {} of tensor {} is too large", shape_string(shape), name);
    }
    elements *= size;
  }
  return static_cast<size_t>(elements * dtype_size(dtype));
}

TensorInfo parse_tensor(const std::string& label, const std::string& name, const json& entry, size_t data_size) {
  if (!entry.is_object()) fail(label, "entry of tensor {} is not a JSON object: {}", name, excerpt(entry));
  TensorInfo info;
  info.name = name;
  info.dtype = parse_dtype(label, name, entry);
  info.shape = parse_shape(label, name, entry);
  std::tie(info.begin, info.end) = parse_offsets(label, name, entry, data_size);
  const size_t needed = expected_bytes(label, name, info.dtype, info.shape);
  if (needed != info.end - info.begin) {
    fail(label, "tensor {} of shape {} and dtype {} needs {} bytes but its data_offsets [{}, {}] span {}", name,
         shape_string(info.shape), dtype_name(info.dtype), needed, info.begin, info.end, info.end - info.begin);
  }
  return info;
}

std::map<std::string, std::string> parse_metadata(const std::string& label, const json& value) {
  if (!value.is_object()) fail(label, "{} is not a JSON object: {}", kMetadataKey, excerpt(value));
  std::map<std::string, std::string> metadata;
  for (const auto& [key, text] : value.items()) {
    if (!text.is_string()) {
      fail(label, "{} value of key {} is not a string: {}", kMetadataKey, printable(key), excerpt(text));
    }
    metadata[key] = text.get<std::string>();
  }
  return metadata;
}

// Tensors of zero bytes share no bytes with anything, so only non-empty ranges are compared.
void check_no_overlap(const std::string& label, const std::vector<TensorInfo>& tensors) {
  std::vector<const TensorInfo*> by_begin;
  for (const TensorInfo& info : tensors) {
    if (info.end > info.begin) by_begin.push_back(&info);
  }
  std::sort(by_begin.begin(), by_begin.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  for (size_t i = 1; i < by_begin.size(); ++i) {
    const TensorInfo& previous = *by_begin[i - 1];
    const TensorInfo& current = *by_begin[i];
    if (previous.end > current.begin) {
      fail(label, "tensors {} [{}, {}] and {} [{}, {}] overlap", printable(previous.name), previous.begin,
           previous.end, printable(current.name), current.begin, current.end);
    }
  }
}

// ---- writing ----

void check_tensor_to_write(const std::string& path, const TensorToWrite& tensor) {
  if (tensor.name == kMetadataKey) fail(path, "{} is reserved and cannot name a tensor", kMetadataKey);
  for (int64_t dim : tensor.shape) {
    if (dim < 0) fail(path, "negative dimension {} in shape of tensor {}", dim, printable(tensor.name));
  }
  const size_t needed = expected_bytes(path, printable(tensor.name), tensor.dtype, tensor.shape);
  if (tensor.bytes.size() != needed) {
    fail(path, "tensor {} of shape {} and dtype {} needs {} bytes but has {}", printable(tensor.name),
         shape_string(tensor.shape), dtype_name(tensor.dtype), needed, tensor.bytes.size());
  }
}

// Tensors in name order (the order of their data in the file); rejects duplicate names.
std::vector<const TensorToWrite*> sorted_by_name(const std::string& path, const std::vector<TensorToWrite>& tensors) {
  std::map<std::string, const TensorToWrite*> by_name;
  for (const TensorToWrite& tensor : tensors) {
    if (!by_name.emplace(tensor.name, &tensor).second) fail(path, "duplicate tensor {}", printable(tensor.name));
  }
  std::vector<const TensorToWrite*> sorted;
  for (const auto& entry : by_name) sorted.push_back(entry.second);
  return sorted;
}

// The JSON header (keys sorted), padded with spaces so that the data section starts 8-byte aligned.
std::string header_text(const std::string& path, const std::vector<const TensorToWrite*>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  size_t offset = 0;
  for (const TensorToWrite* tensor : tensors) {
    header[tensor->name] = {{"dtype", dtype_name(tensor->dtype)},
                            {"shape", tensor->shape},
                            {"data_offsets", {offset, offset + tensor->bytes.size()}}};
    offset += tensor->bytes.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    fail(path, "cannot encode header: {}", parser_message(e));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// Removes the temporary file unless it has been renamed into place.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    if (!kept_) std::remove(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  const std::string& path() const { return path_; }
  void keep() { kept_ = true; }

 private:
  std::string path_;
  bool kept_ = false;
};

void write_all(const std::string& path, std::FILE* file, const void* bytes, size_t size) {
  if (size != 0 && std::fwrite(bytes, 1, size, file) != size) fail(path, "cannot write: {}", std::strerror(errno));
}

void write_file(const std::string& path, const std::string& temp_path, const std::string& header,
                const std::vector<const TensorToWrite*>& tensors) {
  std::FILE* file = std::fopen(temp_path.c_str(), "wb");
  if (!file) fail(path, "cannot create {}: {}", temp_path, std::strerror(errno));
  try {
    uint8_t length[kLengthPrefixBytes];
    for (size_t i = 0; i < kLengthPrefixBytes; ++i) {
      length[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));
    }
    write_all(path, file, length, sizeof length);
    write_all(path, file, header.data(), header.size());
    for (const TensorToWrite* tensor : tensors) write_all(path, file, tensor->bytes.data(), tensor->bytes.size());
  } catch (...) {
    std::fclose(file);
    throw;
  }
  if (std::fclose(file) != 0) fail(path, "cannot write: {}", std::strerror(errno));
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
    case DType::U8: return "U8";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::F64: return 8;
    case DType::U8: return 1;
    case DType::I64: return 8;
    case DType::I32: return 4;
  }
  return 1;
}

// ---- SafetensorsFile ----

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const Mapping mapping = map_read_only(path);
  mapping_ = mapping.address;
  bytes_ = static_cast<const uint8_t*>(mapping.address);
  size_ = mapping.size;
  try {
    parse(path);
  } catch (...) {
    ::munmap(mapping_, size_);  // the destructor does not run when the constructor throws
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) ::munmap(mapping_, size_);
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::from_memory(const uint8_t* bytes, size_t size,
                                                              const std::string& label) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = label;
  file->bytes_ = bytes;
  file->size_ = size;
  file->parse(label);
  return file;
}

void SafetensorsFile::parse(const std::string& label) {
  if (size_ == 0) fail(label, "file is empty");
  if (size_ < kLengthPrefixBytes) fail(label, "file is too short ({} bytes) to hold a safetensors header", size_);
  const uint64_t header_size = read_u64_le(bytes_);
  if (header_size > kMaxHeaderBytes) fail(label, "header length {} is absurd (more than 100 MB)", header_size);
  if (header_size > size_ - kLengthPrefixBytes) {
    fail(label, "header length {} runs past the end of the file ({} bytes)", header_size, size_);
  }
  data_offset_ = kLengthPrefixBytes + static_cast<size_t>(header_size);
  const auto* header_begin = reinterpret_cast<const char*>(bytes_ + kLengthPrefixBytes);
  const json header = parse_header_json(label, header_begin, header_begin + header_size);
  if (!header.is_object()) fail(label, "header is not a JSON object: {}", excerpt(header));

  const size_t data_size = size_ - data_offset_;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      metadata_ = parse_metadata(label, value);
    } else {
      index_[key] = tensors_.size();
      tensors_.push_back(parse_tensor(label, printable(key), value, data_size));
      tensors_.back().name = key;
    }
  }
  check_no_overlap(label, tensors_);
}

bool SafetensorsFile::has(const std::string& name) const { return index_.count(name) != 0; }

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  const auto found = index_.find(name);
  if (found == index_.end()) fail(path_, "no tensor named {}", printable(name));
  return tensors_[found->second];
}

const uint8_t* SafetensorsFile::raw(const TensorInfo& info) const { return bytes_ + data_offset_ + info.begin; }

Tensor SafetensorsFile::to_float(const std::string& name) const {
  const TensorInfo& tensor_info = info(name);
  const uint8_t* bytes = raw(tensor_info);
  const size_t count = (tensor_info.end - tensor_info.begin) / dtype_size(tensor_info.dtype);
  Tensor result(tensor_info.shape);
  float* out = result.ptr();
  switch (tensor_info.dtype) {
    case DType::F32: cast_each<float>(bytes, count, out); break;
    case DType::F64: cast_each<double>(bytes, count, out); break;
    case DType::U8: cast_each<uint8_t>(bytes, count, out); break;
    case DType::I32: cast_each<int32_t>(bytes, count, out); break;
    case DType::I64: cast_each<int64_t>(bytes, count, out); break;
    case DType::F16: convert_each<uint16_t>(bytes, count, out, f16_to_float); break;
    case DType::BF16: convert_each<uint16_t>(bytes, count, out, bf16_to_float); break;
  }
  return result;
}

// ---- writing ----

TensorToWrite f32_tensor(const std::string& name, const Tensor& tensor) {
  TensorToWrite result{name, DType::F32, tensor.shape, {}};
  result.bytes.resize(tensor.data.size() * sizeof(float));
  if (!result.bytes.empty()) std::memcpy(result.bytes.data(), tensor.data.data(), result.bytes.size());
  return result;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  for (const TensorToWrite& tensor : tensors) check_tensor_to_write(path, tensor);
  const std::vector<const TensorToWrite*> ordered = sorted_by_name(path, tensors);
  const std::string header = header_text(path, ordered, metadata);
  TemporaryFile temp(path + ".tmp");
  write_file(path, temp.path(), header, ordered);
  if (std::rename(temp.path().c_str(), path.c_str()) != 0) {
    fail(path, "cannot rename {} into place: {}", temp.path(), std::strerror(errno));
  }
  temp.keep();
}

}  // namespace distrvit
