// A host tensor of float32 in row-major (C) order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace distrvit {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  Tensor() = default;
  explicit Tensor(std::vector<int64_t> dims) : shape(std::move(dims)), data(count(shape)) {}

  static int64_t count(const std::vector<int64_t>& dims) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t dim(int i) const { return shape.at(i < 0 ? shape.size() + i : i); }
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
};

std::string shape_string(const std::vector<int64_t>& shape);  // "[2,3,224,224]"

}  // namespace distrvit
