// What the attention benchmarks share (bench/attention_bench.cu, bench/distr_bench.cu): B x H x N x d shapes from the
// command line, a shape's random inputs and outputs on the GPU and their comparison, CUDA-event timing of calls,
// and the "ms / TFLOP/s" table cells.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "attention_cuda.h"
#include "cuda_check.h"

namespace distrvit::bench {

using cuda::DataType;

struct Shape {
  int B, H, N, D;
};

// "64x12x197x64,1x12x4097x64" -> shapes (malformed items are skipped).
inline std::vector<Shape> parse_shapes(const std::string& s) {
  std::vector<Shape> shapes;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    Shape sh{};
    if (std::sscanf(s.substr(pos, end - pos).c_str(), "%dx%dx%dx%d", &sh.B, &sh.H, &sh.N, &sh.D) == 4)
      shapes.push_back(sh);
    pos = end + 1;
  }
  return shapes;
}

// count values of `dtype` at data: a hash of (index, seed) -> (u1 + u2 - 1) * 2.4, triangular on [-2.4, 2.4], mean 0,
// std ~0.98 (like the tests' N(0, 1)); never all zeros.
static __global__ void fill_random(void* data, DataType dtype, int64_t count, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    uint64_t x = (uint64_t(i) + 1) * 0x9e3779b97f4a7c15ull ^ seed;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    const float u1 = float(x & 0xffffff) / 16777216.0f, u2 = float((x >> 24) & 0xffffff) / 16777216.0f;
    const float v = (u1 + u2 - 1.0f) * 2.4f;
    if (dtype == DataType::F16)
      static_cast<__half*>(data)[i] = __float2half_rn(v);
    else if (dtype == DataType::BF16)
      static_cast<__nv_bfloat16*>(data)[i] = __float2bfloat16_rn(v);
    else
      static_cast<float*>(data)[i] = v;
  }
}

// *out (zeroed by the caller) = max |a - b| over count fp16 / bf16 values; infinity where either is NaN.
static __global__ void max_abs_diff(const void* a, const void* b, DataType dtype, int64_t count, float* out) {
  float m = 0.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    float x, y;
    if (dtype == DataType::F16) {
      x = __half2float(static_cast<const __half*>(a)[i]);
      y = __half2float(static_cast<const __half*>(b)[i]);
    } else {
      x = __bfloat162float(static_cast<const __nv_bfloat16*>(a)[i]);
      y = __bfloat162float(static_cast<const __nv_bfloat16*>(b)[i]);
    }
    const float d = fabsf(x - y);
    m = (d != d) ? INFINITY : fmaxf(m, d);
  }
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if (threadIdx.x % 32 == 0) atomicMax(reinterpret_cast<int*>(out), __float_as_int(m));  // m >= 0
}

// One shape's device data: `sets` random qkv inputs [B, N, 3, H, D] (up to 8, about 256 MB together, so that a call
// never finds the previous call's inputs in L2) and two outputs [B, N, H, D], `out` and `out_ref`.
struct ShapeData {
  ShapeData(const Shape& shape, DataType type)
      : s(shape), dtype(type), elem(cuda::data_type_size(type)), qkv_bytes(size_t(s.B) * s.N * 3 * s.H * s.D * elem),
        out_bytes(size_t(s.B) * s.N * s.H * s.D * elem),
        sets(int(std::min<size_t>(8, std::max<size_t>(1, ((size_t(256) << 20) + qkv_bytes - 1) / qkv_bytes)))) {
    CUDA_CHECK(cudaMalloc(&qkv, qkv_bytes * sets));
    CUDA_CHECK(cudaMalloc(&out, out_bytes));
    CUDA_CHECK(cudaMalloc(&out_ref, out_bytes));
    fill_random<<<1024, 256>>>(qkv, dtype, int64_t(qkv_bytes / elem) * sets, 12345);
    CUDA_CHECK_LAUNCH();
  }
  ~ShapeData() {  // no throwing here: a failed free leaves the error for the next checked call
    cudaFree(qkv);
    cudaFree(out);
    cudaFree(out_ref);
  }
  ShapeData(const ShapeData&) = delete;
  ShapeData& operator=(const ShapeData&) = delete;

  // Attention on input set `set`, written to `out` (call) or `out_ref` (reference_call).
  cuda::AttentionDeviceParams call(int set) const { return params(set, out); }
  cuda::AttentionDeviceParams reference_call(int set) const { return params(set, out_ref); }
  double flops() const { return 4.0 * s.B * s.H * double(s.N) * s.N * s.D; }  // exact attention's
  std::string name() const {
    return std::to_string(s.B) + "x" + std::to_string(s.H) + "x" + std::to_string(s.N) + "x" + std::to_string(s.D);
  }
  // max |out - out_ref| over the whole output; infinity where either holds a NaN.
  float max_output_difference() const {
    float* d_diff = nullptr;
    CUDA_CHECK(cudaMalloc(&d_diff, sizeof(float)));
    CUDA_CHECK(cudaMemset(d_diff, 0, sizeof(float)));
    max_abs_diff<<<264, 256>>>(out, out_ref, dtype, int64_t(out_bytes / elem), d_diff);
    CUDA_CHECK_LAUNCH();
    float diff = NAN;
    CUDA_CHECK(cudaMemcpy(&diff, d_diff, sizeof(float), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d_diff));
    return diff;
  }

  Shape s;
  DataType dtype;
  size_t elem, qkv_bytes, out_bytes;
  int sets;
  void *qkv = nullptr, *out = nullptr, *out_ref = nullptr;

 private:
  cuda::AttentionDeviceParams params(int set, void* o) const {
    return cuda::AttentionDeviceParams::from_qkv(static_cast<char*>(qkv) + size_t(set) * qkv_bytes, o, dtype, s.B,
                                                 s.N, s.H, s.D);
  }
};

// "ms / TFLOP/s" of a median time, or "-" when there is none.
inline std::string time_cell(double ms, double flops) {
  if (std::isnan(ms)) return "-";
  char text[48];
  std::snprintf(text, sizeof text, "%.3f / %.0f", ms, flops / ms * 1e-9);
  return text;
}

struct Timing {
  double median_ms = NAN, min_ms = NAN;
};

// Each call(set) `warmup` times, then `reps` rounds that run every call once, each between its own pair of CUDA
// events; set = the call's index in the whole sequence % sets, so no call finds the previous call's inputs in L2.
// Interleaving gives the calls the same clocks: timed one after the other, the first kernel of a shape ran up to
// 8 % faster than the same kernel timed later (BENCHMARKS.md, ninth session).
inline std::vector<Timing> time_interleaved(const std::vector<std::function<void(int)>>& calls, int sets, int warmup,
                                            int reps) {
  const size_t n = calls.size();
  for (int i = 0; i < warmup; ++i)
    for (size_t c = 0; c < n; ++c) calls[c](int((i * n + c) % sets));
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<cudaEvent_t> events(2 * reps * n);  // [round][call][start, stop]
  for (auto& e : events) CUDA_CHECK(cudaEventCreate(&e));
  for (int i = 0; i < reps; ++i)
    for (size_t c = 0; c < n; ++c) {
      CUDA_CHECK(cudaEventRecord(events[2 * (i * n + c)]));
      calls[c](int((i * n + c) % sets));
      CUDA_CHECK(cudaEventRecord(events[2 * (i * n + c) + 1]));
    }
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<Timing> timings(n);
  for (size_t c = 0; c < n; ++c) {
    std::vector<double> ms(reps);
    for (int i = 0; i < reps; ++i) {
      float t = 0;
      CUDA_CHECK(cudaEventElapsedTime(&t, events[2 * (i * n + c)], events[2 * (i * n + c) + 1]));
      ms[i] = t;
    }
    std::sort(ms.begin(), ms.end());
    timings[c] = {ms[reps / 2], ms[0]};
  }
  for (auto& e : events) CUDA_CHECK(cudaEventDestroy(e));
  return timings;
}

// call(set) `warmup` times, then `reps` times each between its own pair of CUDA events (set = call index % sets).
inline Timing time_calls(const std::function<void(int)>& call, int sets, int warmup, int reps) {
  return time_interleaved({call}, sets, warmup, reps)[0];
}

}  // namespace distrvit::bench
