// Every non-attention CUDA kernel against its CPU reference, one table (test-backend-ops style):
// fresh random inputs at odd sizes, inputs rounded to the kernel's dtype before the CPU sees them,
// outputs poisoned with NaN before each run (an unwritten element fails), normalized MSE
// sum((gpu - cpu)^2) / sum(cpu^2) against a threshold per op and dtype.
#ifdef DISTRVIT_WITH_CUDA
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "convert.h"
#include "cuda_check.h"
#include "distrvit/engine.h"
#include "distrvit/ops_cpu.h"
#include "distrvit/ops_reference.h"
#include "elementwise.h"
#include "float16.h"
#include "gemm_cublaslt.h"
#include "gemm_hopper.h"
#include "layernorm.h"
#include "patch_embed.h"

namespace distrvit {
namespace {

using cuda::DataType;

const char* type_name(DataType t) { return t == DataType::F32 ? "f32" : t == DataType::F16 ? "f16" : "bf16"; }
size_t type_size(DataType t) { return t == DataType::F32 ? 4 : 2; }

// Host encoding/decoding with the CUDA headers' host conversions (round to nearest even).
std::vector<uint8_t> encode(const std::vector<float>& v, DataType t) {
  std::vector<uint8_t> bytes(v.size() * type_size(t));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DataType::F32) {
      std::memcpy(bytes.data() + 4 * i, &v[i], 4);
    } else if (t == DataType::F16) {
      const __half h = __float2half_rn(v[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    } else {
      const __nv_bfloat16 h = __float2bfloat16_rn(v[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  }
  return bytes;
}

std::vector<float> decode(const std::vector<uint8_t>& bytes, DataType t) {
  std::vector<float> v(bytes.size() / type_size(t));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DataType::F32) {
      std::memcpy(&v[i], bytes.data() + 4 * i, 4);
    } else if (t == DataType::F16) {
      __half h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      v[i] = __half2float(h);
    } else {
      __nv_bfloat16 h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      v[i] = __bfloat162float(h);
    }
  }
  return v;
}

// A device buffer holding `count` values of `type`.
class DeviceArray {
 public:
  DeviceArray(size_t count, DataType type) : count_(count), type_(type) {
    CUDA_CHECK(cudaMalloc(&ptr_, std::max<size_t>(1, count * type_size(type))));
  }
  DeviceArray(const std::vector<float>& values, DataType type) : DeviceArray(values.size(), type) {
    const std::vector<uint8_t> bytes = encode(values, type);
    CUDA_CHECK(cudaMemcpy(ptr_, bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  }
  ~DeviceArray() { cudaFree(ptr_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  void poison() { CUDA_CHECK(cudaMemset(ptr_, 0xFF, count_ * type_size(type_))); }  // NaN in f32/f16/bf16
  std::vector<float> read() const {
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<uint8_t> bytes(count_ * type_size(type_));
    CUDA_CHECK(cudaMemcpy(bytes.data(), ptr_, bytes.size(), cudaMemcpyDeviceToHost));
    return decode(bytes, type_);
  }
  void* get() const { return ptr_; }
  float* f32() const { return static_cast<float*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  size_t count_;
  DataType type_;
};

// Random values already representable in `type` (so the CPU reference sees exactly what the GPU sees).
std::vector<float> random_values(std::mt19937& rng, size_t count, DataType type, float scale = 1.0f,
                                 float offset = 0.0f) {
  std::normal_distribution<float> dist(offset, scale);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return decode(encode(v, type), type);
}

double nmse(const std::vector<float>& out, const std::vector<float>& ref) {
  if (out.size() != ref.size()) return INFINITY;
  double err = 0, norm = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return INFINITY;  // poisoned: never written, or overflow
    err += (double(out[i]) - ref[i]) * (double(out[i]) - ref[i]);
    norm += double(ref[i]) * ref[i];
  }
  return norm > 0 ? err / norm : err;
}

cuda::GemmLt* g_gemm = nullptr;  // owned by the test case, alive while the rows run

struct Result {
  std::vector<float> gpu, cpu;
};

// One row of the table: an op at one shape and dtype. dims' meaning is the op's.
struct OpCase {
  std::string op;
  DataType type;
  std::vector<int> dims;
  double max_nmse;
};

// Per-dtype thresholds: f32 kernels agree to rounding; 16-bit outputs are rounded once (f16 ~ 1e-7,
// bf16 ~ 5e-6 normalized MSE) plus accumulation-order differences.
double threshold(DataType t, double f32, double f16, double bf16) {
  return t == DataType::F32 ? f32 : t == DataType::F16 ? f16 : bf16;
}

Result run_layernorm(const OpCase& c, std::mt19937& rng, cudaStream_t s) {
  // dims: rows, dim, group, group_stride (rows taken in groups from x, as the final norm does)
  const int rows = c.dims[0], dim = c.dims[1], group = c.dims[2];
  const int64_t group_stride = c.dims[3];
  const int64_t groups = rows / group;
  const std::vector<float> x = random_values(rng, size_t(groups * group_stride), DataType::F32, 2.0f, 0.5f);
  const std::vector<float> w = random_values(rng, dim, DataType::F32), b = random_values(rng, dim, DataType::F32);
  std::vector<float> gathered(size_t(rows) * dim), ref(size_t(rows) * dim);
  for (int r = 0; r < rows; ++r)
    std::copy_n(x.begin() + (r / group) * group_stride + int64_t(r % group) * dim, dim, gathered.begin() + int64_t(r) * dim);
  layernorm_cpu(gathered.data(), w.data(), b.data(), ref.data(), rows, dim, 1e-6f);
  DeviceArray dx(x, DataType::F32), dw(w, DataType::F32), db(b, DataType::F32), out(ref.size(), c.type);
  out.poison();
  cuda::LayerNormParams p;
  p.x = dx.f32();
  p.weight = dw.f32();
  p.bias = db.f32();
  p.out = out.get();
  p.dtype = c.type;
  p.rows = rows;
  p.dim = dim;
  p.group = group;
  p.group_stride = group_stride;
  p.eps = 1e-6f;
  cuda::layernorm(p, s);
  return {out.read(), ref};
}

Result run_residual_layernorm(const OpCase& c, std::mt19937& rng, cudaStream_t s) {
  // dims: rows, dim. Checks both outputs: the updated residual x (f32) and LN(x).
  const int rows = c.dims[0], dim = c.dims[1];
  std::vector<float> x = random_values(rng, size_t(rows) * dim, DataType::F32);
  const std::vector<float> y = random_values(rng, size_t(rows) * dim, c.type, 0.5f);
  const std::vector<float> w = random_values(rng, dim, DataType::F32), b = random_values(rng, dim, DataType::F32);
  DeviceArray dx(x, DataType::F32), dy(y, c.type), dw(w, DataType::F32), db(b, DataType::F32), out(x.size(), c.type);
  out.poison();
  std::vector<float> ref(x.size());
  residual_layernorm_cpu(x.data(), y.data(), w.data(), b.data(), ref.data(), rows, dim, 1e-6f);
  cuda::LayerNormParams p;
  p.x = dx.f32();
  p.x_out = dx.f32();
  p.y = dy.get();
  p.weight = dw.f32();
  p.bias = db.f32();
  p.out = out.get();
  p.dtype = c.type;
  p.rows = rows;
  p.dim = dim;
  cuda::layernorm(p, s);
  Result r{out.read(), ref};
  const std::vector<float> x_gpu = dx.read();
  r.gpu.insert(r.gpu.end(), x_gpu.begin(), x_gpu.end());
  r.cpu.insert(r.cpu.end(), x.begin(), x.end());
  return r;
}

// dims: m, n, k, lda (0 = k), out f32 (1/0), activation (0 none, 1 erf, 2 tanh). Through GemmLt, or (gemm_hopper
// rows) straight to our Hopper kernel.
Result run_gemm(const OpCase& c, std::mt19937& rng, cudaStream_t s) {
  const int m = c.dims[0], n = c.dims[1], k = c.dims[2];
  const int64_t lda = c.dims[3] ? c.dims[3] : k;
  const DataType out_type = c.dims[4] ? DataType::F32 : c.type;
  const int act = c.dims[5];
  const std::vector<float> a = random_values(rng, size_t((m - 1) * lda + k), c.type);
  const std::vector<float> w = random_values(rng, size_t(n) * k, c.type, 1.0f / std::sqrt(float(k)));
  const std::vector<float> bias = random_values(rng, n, out_type, 0.5f);
  std::vector<float> a_packed(size_t(m) * k), ref(size_t(m) * n);
  for (int i = 0; i < m; ++i) std::copy_n(a.begin() + i * lda, k, a_packed.begin() + int64_t(i) * k);
  linear_cpu(a_packed.data(), w.data(), bias.data(), ref.data(), m, n, k);
  if (act == 1) gelu_cpu(ref.data(), int64_t(ref.size()));
  if (act == 2) gelu_tanh_cpu(ref.data(), int64_t(ref.size()));
  DeviceArray da(a, c.type), dw(w, c.type), db(bias, out_type), out(ref.size(), out_type);
  out.poison();
  cuda::GemmParams p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = da.get();
  p.lda = lda;
  p.w = dw.get();
  p.d = out.get();
  p.bias = db.get();
  p.ab_type = c.type;
  p.d_type = out_type;
  p.epilogue = act == 2   ? cuda::GemmEpilogue::BiasGeluTanh
               : act == 1 ? cuda::GemmEpilogue::BiasGeluErf
                          : cuda::GemmEpilogue::Bias;
  if (c.op == "gemm_hopper") {
    if (!cuda::gemm_bias_hopper(p, s)) fail("gemm_hopper", "the kernel refused a shape it should take");
  } else {
    g_gemm->run(p, s);
  }
  return {out.read(), ref};
}

Result run_bias_gelu(const OpCase& c, std::mt19937& rng, cudaStream_t s) {
  // dims: rows, cols. x = gelu(x + bias): the fallback of a bias epilogue, and the exact-GELU pass.
  const int rows = c.dims[0], cols = c.dims[1];
  const std::vector<float> x = random_values(rng, size_t(rows) * cols, c.type, 2.0f);
  const std::vector<float> bias = random_values(rng, cols, c.type);
  std::vector<float> ref(x.size());
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) ref[size_t(r) * cols + j] = x[size_t(r) * cols + j] + bias[j];
  gelu_cpu(ref.data(), int64_t(ref.size()));
  DeviceArray dx(x, c.type), db(bias, c.type);
  cuda::bias_activation(dx.get(), db.get(), c.type, rows, cols, cuda::Activation::GeluErf, s);
  return {dx.read(), ref};
}

Result run_patch_embed(const OpCase& c, std::mt19937& rng, cudaStream_t s) {
  // dims: batch, channels, height (= width), patch, embed. im2col + GEMM with the bias epilogue.
  cuda::GemmLt& gemm = *g_gemm;
  const int batch = c.dims[0], ch = c.dims[1], hw = c.dims[2], patch = c.dims[3], embed = c.dims[4];
  const int grid = hw / patch, np = grid * grid, kdim = ch * patch * patch;
  const std::vector<float> image = random_values(rng, size_t(batch) * ch * hw * hw, c.type);  // rounded: im2col converts
  const std::vector<float> w = random_values(rng, size_t(embed) * kdim, c.type, 0.05f);
  const std::vector<float> bias = random_values(rng, embed, c.type);
  std::vector<float> ref(size_t(batch) * np * embed);
  patch_embed_cpu(image.data(), w.data(), bias.data(), ref.data(), batch, ch, hw, hw, patch, embed);
  DeviceArray dimage(image, DataType::F32), cols(size_t(batch) * np * kdim, c.type), dw(w, c.type), db(bias, c.type),
      out(ref.size(), c.type);
  cols.poison();
  out.poison();
  cuda::im2col_patches(dimage.f32(), cols.get(), c.type, batch, ch, hw, hw, patch, s);
  cuda::GemmParams p;
  p.m = batch * np;
  p.n = embed;
  p.k = kdim;
  p.a = cols.get();
  p.w = dw.get();
  p.d = out.get();
  p.bias = db.get();
  p.ab_type = c.type;
  p.d_type = c.type;
  p.epilogue = cuda::GemmEpilogue::Bias;
  gemm.run(p, s);
  return {out.read(), ref};
}

Result run_embed_tokens(const OpCase& c, std::mt19937& rng, cudaStream_t s) {
  // dims: batch, tokens, prefix, dim
  const int batch = c.dims[0], tokens = c.dims[1], prefix = c.dims[2], dim = c.dims[3];
  const std::vector<float> patches = random_values(rng, size_t(batch) * (tokens - prefix) * dim, c.type);
  const std::vector<float> pre = random_values(rng, size_t(prefix) * dim, DataType::F32);
  const std::vector<float> pos = random_values(rng, size_t(tokens) * dim, DataType::F32);
  std::vector<float> ref(size_t(batch) * tokens * dim);
  embed_tokens_cpu(patches.data(), pre.data(), pos.data(), ref.data(), batch, tokens, prefix, dim);
  DeviceArray dp(patches, c.type), dpre(pre, DataType::F32), dpos(pos, DataType::F32), out(ref.size(), DataType::F32);
  out.poison();
  cuda::embed_tokens(dp.get(), c.type, dpre.f32(), dpos.f32(), out.f32(), batch, tokens, prefix, dim, s);
  return {out.read(), ref};
}

Result run_mean_tokens(const OpCase& c, std::mt19937& rng, cudaStream_t s) {
  // dims: batch, tokens, first, dim, with y. With y: the fc_norm path (x fp32, y of the type, out fp32);
  // without: the norm-first path (x and out of the type).
  const int batch = c.dims[0], tokens = c.dims[1], first = c.dims[2], dim = c.dims[3];
  const bool with_y = c.dims[4] != 0;
  const DataType x_type = with_y ? DataType::F32 : c.type, out_type = with_y ? DataType::F32 : c.type;
  const size_t n = size_t(batch) * tokens * dim;
  const std::vector<float> x = random_values(rng, n, x_type);
  const std::vector<float> y = with_y ? random_values(rng, n, c.type) : std::vector<float>(n, 0.0f);
  std::vector<float> sum(n), ref(size_t(batch) * dim);
  for (size_t i = 0; i < n; ++i) sum[i] = x[i] + y[i];
  for (int b = 0; b < batch; ++b) {
    mean_rows_cpu(sum.data() + (size_t(b) * tokens + first) * dim, ref.data() + size_t(b) * dim, tokens - first, dim);
  }
  DeviceArray dx(x, x_type), dy(y, c.type), out(ref.size(), out_type);
  out.poison();
  cuda::MeanTokensParams p;
  p.x = dx.get();
  p.x_type = x_type;
  p.y = with_y ? dy.get() : nullptr;
  p.y_type = c.type;
  p.out = out.get();
  p.out_type = out_type;
  p.batch = batch;
  p.tokens = tokens;
  p.first = first;
  p.dim = dim;
  cuda::mean_tokens(p, s);
  return {out.read(), ref};
}

Result run_convert(const OpCase& c, std::mt19937& rng, cudaStream_t s) {
  // dims: count. f32 -> type -> f32 on the device must equal the host's round to nearest even, exactly.
  const int count = c.dims[0];
  std::normal_distribution<float> dist(0.0f, 100.0f);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  DeviceArray src(v, DataType::F32), mid(count, c.type), back(count, DataType::F32);
  mid.poison();
  back.poison();
  cuda::convert_from_f32(src.f32(), mid.get(), c.type, count, s);
  cuda::convert_to_f32(mid.get(), c.type, back.f32(), count, s);
  return {back.read(), decode(encode(v, c.type), c.type)};
}

const std::map<std::string, std::function<Result(const OpCase&, std::mt19937&, cudaStream_t)>>& runners() {
  static const std::map<std::string, std::function<Result(const OpCase&, std::mt19937&, cudaStream_t)>> table{
      {"layernorm", run_layernorm},   {"residual_layernorm", run_residual_layernorm},
      {"gemm", run_gemm},             {"gemm_hopper", run_gemm}, {"bias_gelu", run_bias_gelu},
      {"patch_embed", run_patch_embed}, {"embed_tokens", run_embed_tokens},
      {"mean_tokens", run_mean_tokens}, {"convert", run_convert}};
  return table;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> table;
  for (DataType t : {DataType::F32, DataType::F16, DataType::BF16}) {
    const double ln = threshold(t, 1e-11, 2e-7, 1e-5);
    // layernorm: rows, dim, group, group_stride. Vector path (dim % 8 == 0) and scalar path (odd dims).
    for (const std::vector<int>& d : std::vector<std::vector<int>>{
             {37, 192, 1, 192}, {29, 768, 1, 768}, {7, 1536, 1, 1536}, {31, 100, 1, 100}, {5, 1001, 1, 1001},
             {6, 192, 2, 5 * 192}, {4, 384, 1, 197 * 384}})
      table.push_back({"layernorm", t, d, ln});
    for (const std::vector<int>& d : std::vector<std::vector<int>>{{53, 192}, {17, 333}, {33, 768}})
      table.push_back({"residual_layernorm", t, d, ln});
    const double mm = threshold(t, 1e-10, 2e-6, 5e-5);
    // gemm: m, n, k, lda, f32 out, activation
    for (const std::vector<int>& d : std::vector<std::vector<int>>{
             {37, 75, 29, 0, 0, 0},     {197, 576, 192, 0, 0, 0},   {257, 1000, 384, 0, 0, 0},
             {3, 1000, 192, 0, 1, 0},   {5, 192, 192, 7 * 192, 0, 0}, {197, 768, 192, 0, 0, 1},
             {45, 130, 64, 0, 0, 1},    {197, 768, 192, 0, 0, 2}})
      table.push_back({"gemm", t, d, mm});
    // gemm_hopper: m, n, k, lda, 0, activation (0 or 1). Every tile configuration (64 x 64, 64 x 128, 128 x 128),
    // row and column tails, a strided a (the last block's class-token rows).
    if (t != DataType::F32 && cuda::gemm_hopper_available())
      for (const std::vector<int>& d : std::vector<std::vector<int>>{
               {197, 768, 192, 0, 0, 1}, {37, 72, 64, 0, 0, 1},     {300, 3072, 768, 0, 0, 1},
               {1100, 2048, 128, 0, 0, 1}, {5, 200, 192, 7 * 192, 0, 1}, {1, 8, 64, 0, 0, 1},
               {197, 576, 192, 0, 0, 0}, {197, 192, 768, 0, 0, 0},   {1100, 2304, 768, 0, 0, 0},
               {3, 200, 192, 197 * 192, 0, 0}, {45, 136, 64, 0, 0, 0}})
        table.push_back({"gemm_hopper", t, d, mm});
    for (const std::vector<int>& d : std::vector<std::vector<int>>{{41, 64}, {13, 77}})
      table.push_back({"bias_gelu", t, d, threshold(t, 1e-11, 2e-7, 1e-5)});
    for (const std::vector<int>& d : std::vector<std::vector<int>>{{2, 3, 48, 16, 64}, {3, 3, 42, 14, 40}})
      table.push_back({"patch_embed", t, d, mm});
    for (const std::vector<int>& d : std::vector<std::vector<int>>{{3, 10, 1, 24}, {2, 11, 2, 37}})
      table.push_back({"embed_tokens", t, d, 1e-14});
    // mean_tokens: batch, tokens, first, dim, with y. Columns past a block of 128, no prefix, 4 registers.
    for (const std::vector<int>& d : std::vector<std::vector<int>>{{3, 197, 1, 192, 1}, {2, 200, 4, 333, 0},
                                                                   {5, 37, 0, 130, 1}, {1, 257, 5, 64, 0}})
      table.push_back({"mean_tokens", t, d, threshold(t, 1e-12, 2e-7, 1e-5)});
    table.push_back({"convert", t, {1001}, 0.0});
  }
  return table;
}

std::string dims_string(const std::vector<int>& dims) {
  std::string s;
  for (int d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

TEST_CASE("ops: every kernel against its CPU reference (f32, f16, bf16)") {
  if (!cuda_available()) {
    MESSAGE("no CUDA device: skipped");
    return;
  }
  std::mt19937 rng(20261127);
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreate(&stream));
  cuda::GemmLt gemm;
  g_gemm = &gemm;
  if (!cuda::gemm_hopper_available())
    std::printf("  gemm_hopper rows skipped: no sm_90a build or compute capability 9.0 device\n");
  int failures = 0;
  for (const OpCase& c : cases()) {
    double err = INFINITY;
    try {
      const Result r = runners().at(c.op)(c, rng, stream);
      err = nmse(r.gpu, r.cpu);
    } catch (const Error& e) {  // report the row and go on with the table
      std::printf("  %-20s %-5s %-22s error: %s\n", c.op.c_str(), type_name(c.type), dims_string(c.dims).c_str(),
                  e.what());
      cudaGetLastError();
    }
    const bool ok = err <= c.max_nmse;
    failures += !ok;
    std::printf("  %-20s %-5s %-22s nmse %.3e  (max %.1e)  %s\n", c.op.c_str(), type_name(c.type),
                dims_string(c.dims).c_str(), err, c.max_nmse, ok ? "ok" : "FAIL");
    INFO(c.op, " ", type_name(c.type), " ", dims_string(c.dims), " nmse ", err, " > ", c.max_nmse);
    CHECK(ok);
  }
  g_gemm = nullptr;
  CUDA_CHECK(cudaStreamDestroy(stream));
  std::printf("  %d of %zu rows failed\n", failures, cases().size());
}

// The host encoders that stage the GPU input (patch_staging.h) round as CUDA's own conversions do: no device needed.
TEST_CASE("ops: host fp16 / bf16 encoders equal CUDA's conversions") {
  std::mt19937 rng(11);
  int mismatches = 0;
  for (int i = 0; i < 1 << 20; ++i) {
    const uint32_t bits = rng();
    float v;
    std::memcpy(&v, &bits, 4);
    if (std::isnan(v)) continue;
    const float scaled = v * 0x1p-100f;  // also many values in fp16's range
    for (const float x : {v, scaled}) {
      const __half h = __float2half_rn(x);
      const __nv_bfloat16 bf = __float2bfloat16_rn(x);
      uint16_t h_bits, bf_bits;
      std::memcpy(&h_bits, &h, 2);
      std::memcpy(&bf_bits, &bf, 2);
      mismatches += float_to_f16(x) != h_bits || float_to_bf16(x) != bf_bits;
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("ops: layernorm rejects a dim over 2048") {
  if (!cuda_available()) {
    MESSAGE("no CUDA device: skipped");
    return;
  }
  cuda::LayerNormParams p;
  p.rows = 1;
  p.dim = 4096;
  p.dtype = DataType::F16;
  CHECK_THROWS_AS(cuda::layernorm(p, nullptr), Error);
}

}  // namespace
}  // namespace distrvit
#endif  // DISTRVIT_WITH_CUDA
