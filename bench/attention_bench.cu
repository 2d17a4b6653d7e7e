// Attention kernel benchmark: ms and TFLOP/s (4 * B * H * N^2 * d) of every GPU attention path on the
// fused qkv layout [B, N, 3, H, D] the engine uses, output [B, N, H, D].
//
//   attention_bench [--dtype f16|bf16] [--reps 50] [--warmup 10] [--shapes 64x12x197x64,...]
//                   [--kernels exact,v0,v1,v2,v3,h0,...,hN,cudnn,naive,generic]
//
// Each call is bracketed by its own pair of CUDA events; the median of --reps calls is reported (min in
// the log). Inputs rotate over enough random sets (never zeros) to exceed 256 MB so repeated calls don't
// run out of L2. Also prints max |exact - cudnn| per shape as a sanity check.
// Built by scripts/gpu-attn-check; bench/attention_torch.py prints the PyTorch SDPA table for the same shapes.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attention_common.cuh"
#include "cuda_check.h"
#include "dtype_util.cuh"

#include "bench_util.cuh"

using namespace distrvit::cuda;

using distrvit::bench::parse_shapes;
using distrvit::bench::Shape;
using distrvit::bench::ShapeData;
using distrvit::bench::time_calls;
using distrvit::bench::time_cell;
using distrvit::bench::Timing;

int main(int argc, char** argv) {
  std::string dtype_arg = "f16", shapes_arg = "64x12x197x64,16x12x577x64,4x12x1025x64,1x12x4097x64,2x16x8192x64,"
                                               "1x16x16384x128";
  std::string kernels_arg = "exact,v0,v1,v2,v3,cudnn,naive";
  for (int v = 0; v < hopper::kNumVariants; ++v) kernels_arg += ",h" + std::to_string(v);
  int reps = 50, warmup = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], val = argv[i + 1];
    if (key == "--dtype") dtype_arg = val;
    else if (key == "--reps") reps = std::max(1, std::atoi(val.c_str()));
    else if (key == "--warmup") warmup = std::atoi(val.c_str());
    else if (key == "--shapes") shapes_arg = val;
    else if (key == "--kernels") kernels_arg = val;
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  const DataType dtype = dtype_arg == "bf16" ? DataType::BF16 : DataType::F16;
  auto want = [&](const char* k) { return ("," + kernels_arg + ",").find("," + std::string(k) + ",") != std::string::npos; };

  try {
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s, %d SMs, L2 %d MB; cuDNN %zu; dtype %s; median of %d (warm-up %d)\n", prop.name,
                prop.multiProcessorCount, prop.l2CacheSize >> 20, cudnnGetVersion(), dtype_arg.c_str(), reps, warmup);
    CudnnAttention cudnn;
    std::vector<std::string> summary;
    for (const Shape& s : parse_shapes(shapes_arg)) {
      const ShapeData data(s, dtype);
      const std::string shape_label = data.name();
      const char* shape_name = shape_label.c_str();
      std::map<std::string, Timing> t;

      auto bench = [&](const std::string& name, const std::function<void(int)>& call) {
        try {
          t[name] = time_calls(call, data.sets, warmup, reps);
          std::printf("%-16s %-8s %9.4f ms (min %9.4f)  %7.1f TFLOP/s\n", shape_name, name.c_str(), t[name].median_ms,
                      t[name].min_ms, data.flops() / t[name].median_ms * 1e-9);
        } catch (const std::exception& e) {
          std::printf("%-16s %-8s ERROR %s\n", shape_name, name.c_str(), e.what());
          cudaGetLastError();
        }
        std::fflush(stdout);
      };
      if (want("exact")) bench("exact", [&](int set) { attention_exact(data.call(set), nullptr); });
      for (int v = 0; v < flash::kNumVariants; ++v) {
        const std::string name = "v" + std::to_string(v);
        if (want(name.c_str()))
          bench(name, [&, v](int set) {
            if (!flash::run_fused(data.call(set), v, nullptr)) throw distrvit::Error("not fused-eligible");
          });
      }
      for (int v = 0; v < hopper::kNumVariants; ++v) {
        const std::string name = "h" + std::to_string(v);
        if (want(name.c_str()))
          bench(name, [&, v](int set) {
            if (!hopper::run(data.call(set), v, nullptr)) throw distrvit::Error("no Hopper kernel here");
          });
      }
      if (want("cudnn")) bench("cudnn", [&](int set) { cudnn.run(data.reference_call(set), nullptr); });
      if (want("generic")) bench("generic", [&](int set) { attention_exact_generic(data.call(set), nullptr); });
      if (want("naive")) {
        const size_t ws = naive_workspace_bytes(data.call(0));
        if (ws <= (size_t(8) << 30)) {
          void* workspace = nullptr;
          CUDA_CHECK(cudaMalloc(&workspace, ws));
          bench("naive", [&](int set) { attention_naive(data.call(set), workspace, nullptr); });
          CUDA_CHECK(cudaFree(workspace));
        }
      }
      // Sanity: exact vs cuDNN on set 0.
      float diff = NAN;
      try {
        attention_exact(data.call(0), nullptr);
        cudnn.run(data.reference_call(0), nullptr);
        diff = data.max_output_difference();
      } catch (const std::exception& e) {
        std::printf("%-16s check ERROR %s\n", shape_name, e.what());
      }
      std::printf("%-16s max |exact - cudnn| = %.3g\n", shape_name, diff);

      auto cell = [&](const char* k) {
        auto it = t.find(k);
        return time_cell(it == t.end() ? NAN : it->second.median_ms, data.flops());
      };
      const int hopper_pick = hopper::auto_variant(data.call(0));
      const int picked = hopper_pick >= 0 ? hopper_pick : flash::auto_variant(data.call(0));
      const char picked_family = hopper_pick >= 0 ? 'h' : 'v';
      std::printf("%-16s exact = %c%d (%s)\n", shape_name, picked_family, picked,
                  hopper_pick >= 0 ? hopper::variant_name(picked) : flash::variant_name(s.D, picked));
      std::string line = std::string("| ") + shape_name + " | " + cell("exact") + " (" + picked_family +
                         std::to_string(picked) + ") |";
      for (const char* k : {"v0", "v1", "v2", "v3"}) line += " " + cell(k) + " |";
      for (int v = 0; v < hopper::kNumVariants; ++v) line += " " + cell(("h" + std::to_string(v)).c_str()) + " |";
      line += " " + cell("cudnn") + " | " + cell("naive") + " |";
      summary.push_back(line);
    }
    std::string header = "| B x H x N x d | exact (auto) | fused v0 | fused v1 | fused v2 | fused v3 |";
    for (int v = 0; v < hopper::kNumVariants; ++v) header += " Hopper h" + std::to_string(v) + " |";
    header += " cuDNN | naive |\n|";
    for (int c = 0; c < 8 + hopper::kNumVariants; ++c) header += "---|";
    std::printf("\nms / TFLOP/s (%s, %s)\n%s\n", prop.name, dtype_arg.c_str(), header.c_str());
    for (const auto& l : summary) std::printf("%s\n", l.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attention_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
