// Shared by the table-driven GPU kernel tests (attention, DistrAttention): host <-> device encodings of the
// dtypes, a device buffer, a call checked up to the device's completion, a thread pool loop for the CPU references,
// the run's seed and the N cap.
// Header-only: scripts/gpu-attn-check and gpu-distr-check also build these tests with nvcc alone.
#pragma once
#include <doctest/doctest.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "attention_cuda.h"
#include "distrvit/error.h"

namespace distrvit::test {

using cuda::DataType;

inline const char* dtype_name(DataType t) { return t == DataType::F32 ? "f32" : t == DataType::F16 ? "f16" : "bf16"; }

inline float round_to(DataType t, float x) {
  switch (t) {
    case DataType::F16: return __half2float(__float2half_rn(x));
    case DataType::BF16: return __bfloat162float(__float2bfloat16_rn(x));
    case DataType::F32: return x;
  }
  return x;
}

#define CHECK_CUDA_OK(expr)                                                           \
  do {                                                                                \
    const cudaError_t err_ = (expr);                                                  \
    if (err_ != cudaSuccess) FAIL(#expr << ": " << cudaGetErrorString(err_));         \
  } while (0)

// Host floats <-> device bytes of `t`.
inline std::vector<uint8_t> encode(const std::vector<float>& v, DataType t) {
  const size_t elem = distrvit::cuda::data_type_size(t);
  std::vector<uint8_t> out(v.size() * elem);
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DataType::F32) {
      std::memcpy(&out[i * 4], &v[i], 4);
    } else if (t == DataType::F16) {
      const __half h = __float2half_rn(v[i]);
      std::memcpy(&out[i * 2], &h, 2);
    } else {
      const __nv_bfloat16 h = __float2bfloat16_rn(v[i]);
      std::memcpy(&out[i * 2], &h, 2);
    }
  }
  return out;
}
inline std::vector<float> decode(const std::vector<uint8_t>& bytes, DataType t) {
  const size_t elem = distrvit::cuda::data_type_size(t);
  std::vector<float> out(bytes.size() / elem);
  for (size_t i = 0; i < out.size(); ++i) {
    if (t == DataType::F32) {
      std::memcpy(&out[i], &bytes[i * 4], 4);
    } else if (t == DataType::F16) {
      __half h;
      std::memcpy(&h, &bytes[i * 2], 2);
      out[i] = __half2float(h);
    } else {
      __nv_bfloat16 h;
      std::memcpy(&h, &bytes[i * 2], 2);
      out[i] = __bfloat162float(h);
    }
  }
  return out;
}

struct DeviceBuffer {
  void* ptr = nullptr;
  explicit DeviceBuffer(size_t bytes) {
    if (bytes && cudaMalloc(&ptr, bytes) != cudaSuccess) throw distrvit::Error("cudaMalloc failed");
  }
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// Runs call() and waits for the device: "" when both went well, else the exception's or CUDA's message.
inline std::string run_and_sync(const std::function<void()>& call) {
  try {
    call();
    const cudaError_t status = cudaDeviceSynchronize();
    return status == cudaSuccess ? std::string() : std::string(cudaGetErrorString(status));
  } catch (const std::exception& e) {
    return e.what();
  }
}

inline void parallel_for(int count, const std::function<void(int)>& fn) {
  const int workers = std::max(1, std::min<int>(count, int(std::thread::hardware_concurrency())));
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (int i = next++; i < count; i = next++) fn(i);
    });
  for (auto& t : pool) t.join();
}

// DISTRVIT_TEST_SEED, or a fresh one printed once so a failure can be replayed.
inline uint64_t base_seed() {
  static const uint64_t seed = [] {
    if (const char* env = std::getenv("DISTRVIT_TEST_SEED")) return uint64_t(std::strtoull(env, nullptr, 10));
    const uint64_t s = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
    std::printf("GPU tests: DISTRVIT_TEST_SEED=%llu\n", static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

// DISTRVIT_TEST_MAX_N caps N (compute-sanitizer runs use small shapes).
inline int max_tokens() {
  const char* env = std::getenv("DISTRVIT_TEST_MAX_N");
  return env ? std::atoi(env) : 1 << 30;
}

// DISTRVIT_TEST_MIN_N skips smaller N (a sanitizer run on the long-block rows alone).
inline int min_tokens() {
  const char* env = std::getenv("DISTRVIT_TEST_MIN_N");
  return env ? std::atoi(env) : 0;
}

}  // namespace distrvit::test
