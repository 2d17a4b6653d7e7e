// DistrAttention kernel benchmark: attention_distr (G = 2, l = 16, 64, 128 and N (one block), mean, P = 16) against
// our exact kernel (attention_exact) and cuDNN (CudnnAttention) on the fused qkv layout [B, N, 3, H, D].
//
//   distr_bench [--dtype f16|bf16] [--reps 50] [--warmup 10] [--shapes 64x12x197x64,...] [--groups 2,4]
//               [--blocks 16,64,128,N] [--paths auto,expanded,expand,...] [--hash fma|i8] [--interleave 1|0]
//
// --paths picks what is timed for each l (default: all): auto (attention_distr), a path by name (distr::path_name),
// group / expand (the prologues alone).
// ms = median of --reps calls, each between its own pair of CUDA events, after --warmup calls. The timed calls of a
// shape take turns, one of each per round, so that clock changes hit them alike (--interleave 0: one after the
// other, as before 2026-11-29). Inputs rotate over enough random sets to exceed 256 MB (no L2 reuse across
// calls). "effective TFLOP/s" counts exact attention's 4 B H N^2 D flops for every kernel, so it compares times.
// Also times the grouping prologue alone ("group") and prints max |distr(G=2) - exact| as a sanity figure (an
// approximation: not small). Built by scripts/gpu-distr-check.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "attention_common.cuh"
#include "attention_distr.cuh"
#include "cuda_check.h"
#include "distrvit/distr.h"
#include "dtype_util.cuh"

#include "bench_util.cuh"

using namespace distrvit::cuda;

using distrvit::bench::parse_shapes;
using distrvit::bench::Shape;
using distrvit::bench::ShapeData;
using distrvit::bench::time_calls;
using distrvit::bench::time_cell;
using distrvit::bench::time_interleaved;
using distrvit::bench::Timing;

int main(int argc, char** argv) {
  std::string dtype_arg = "f16",
              shapes_arg = "64x12x197x64,16x12x577x64,4x12x1025x64,1x12x4097x64,2x16x8192x64,1x16x16384x128";
  std::string groups_arg = "2", blocks_arg = "16,64,128,N", paths_arg = "all", hash_arg = "fma";
  int reps = 50, warmup = 10;
  bool interleave = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], val = argv[i + 1];
    if (key == "--dtype") dtype_arg = val;
    else if (key == "--reps") reps = std::max(1, std::atoi(val.c_str()));
    else if (key == "--warmup") warmup = std::atoi(val.c_str());
    else if (key == "--shapes") shapes_arg = val;
    else if (key == "--groups") groups_arg = val;
    else if (key == "--blocks") blocks_arg = val;
    else if (key == "--paths") paths_arg = val;
    else if (key == "--hash") hash_arg = val;
    else if (key == "--interleave") interleave = val != "0";
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  const DataType dtype = dtype_arg == "bf16" ? DataType::BF16 : DataType::F16;
  auto split = [](const std::string& list) {
    std::vector<std::string> items;
    for (size_t pos = 0; pos < list.size();) {
      size_t end = list.find(',', pos);
      if (end == std::string::npos) end = list.size();
      items.push_back(list.substr(pos, end - pos));
      pos = end + 1;
    }
    return items;
  };
  std::vector<int> groups;
  for (const std::string& g : split(groups_arg)) groups.push_back(std::atoi(g.c_str()));
  const std::vector<std::string> blocks = split(blocks_arg), paths = split(paths_arg);
  auto wanted = [&](const std::string& what) {
    return paths_arg == "all" || std::find(paths.begin(), paths.end(), what) != paths.end();
  };

  try {
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s, %d SMs; dtype %s; hash %s; median of %d (warm-up %d)%s\n", prop.name,
                prop.multiProcessorCount, dtype_arg.c_str(), hash_arg.c_str(), reps, warmup,
                interleave ? ", interleaved" : "");
    CudnnAttention cudnn;
    std::vector<std::string> summary;
    for (const Shape& s : parse_shapes(shapes_arg)) {
      const ShapeData data(s, dtype);
      const std::string shape_label = data.name();
      const char* shape_name = shape_label.c_str();
      std::map<std::string, double> t;
      auto report = [&](const std::string& name, double ms) {
        t[name] = ms;
        std::printf("%-16s %-14s %9.4f ms  %7.1f TFLOP/s (exact-equivalent)\n", shape_name, name.c_str(), ms,
                    data.flops() / ms * 1e-9);
        std::fflush(stdout);
      };
      std::vector<std::string> pending_names;  // --interleave: timed together once the shape's calls are known
      std::vector<std::function<void(int)>> pending_calls;
      auto bench = [&](const std::string& name, const std::function<void(int)>& call) {
        try {
          if (interleave) {
            call(0);  // a call that throws is reported here, not timed
            CUDA_CHECK(cudaDeviceSynchronize());
            pending_names.push_back(name);
            pending_calls.push_back(call);
          } else {
            report(name, time_calls(call, data.sets, warmup, reps).median_ms);
          }
        } catch (const std::exception& e) {
          std::printf("%-16s %-14s ERROR %s\n", shape_name, name.c_str(), e.what());
          cudaGetLastError();
          std::fflush(stdout);
        }
      };
      std::vector<void*> buffers;  // the prologue benchmarks' outputs, freed with the shape
      if (wanted("exact")) bench("exact", [&](int set) { attention_exact(data.reference_call(set), nullptr); });
      if (wanted("cudnn")) bench("cudnn", [&](int set) { cudnn.run(data.reference_call(set), nullptr); });

      std::vector<float*> projections;
      auto distr_name = [](int G, const std::string& l) { return "distr G" + std::to_string(G) + " l" + l; };
      for (int G : groups) {
        for (const std::string& block : blocks) {
          const int l = block == "N" ? s.N : std::atoi(block.c_str());
          distrvit::DistrParams d;
          d.block = l;
          d.group = G;
          d.hash_bits = 16;
          d.seed = 42;
          d.hash = hash_arg == "i8" ? distrvit::DistrHash::Int8 : distrvit::DistrHash::Fma;
          const std::vector<float> r = distrvit::distr_projection(d, l);
          float* dr = nullptr;
          CUDA_CHECK(cudaMalloc(&dr, r.size() * sizeof(float)));
          CUDA_CHECK(cudaMemcpy(dr, r.data(), r.size() * sizeof(float), cudaMemcpyHostToDevice));
          projections.push_back(dr);
          const std::string name = distr_name(G, block);
          if (wanted("auto")) {
            bench(name, [&, d, dr](int set) { attention_distr(data.call(set), d, dr, nullptr); });
            std::printf("%-16s %-14s auto path: %s\n", shape_name, name.c_str(),
                        distr::path_name(distr::auto_path(data.call(0), d)));
          }
          if (G == groups.front()) {
            for (distr::Path path : {distr::Path::kFused64, distr::Path::kFused128, distr::Path::kHopper0,
                                     distr::Path::kHopper1, distr::Path::kPrefused, distr::Path::kExpanded})
              if (wanted(distr::path_name(path)))
                bench(name + " " + distr::path_name(path),
                      [&, d, dr, path](int set) { distr::run(data.call(set), d, dr, path, nullptr); });
            // The grouping prologue alone.
            const int nblocks = distr::num_blocks(s.N, l);
            void *perm = nullptr, *qf = nullptr, *q_rows = nullptr;
            CUDA_CHECK(cudaMalloc(&perm, size_t(s.B) * s.H * nblocks * s.D));
            CUDA_CHECK(cudaMalloc(&qf, size_t(s.B) * s.H * s.N * distr::fused_width(s.D, G) * data.elem));
            CUDA_CHECK(cudaMalloc(&q_rows, size_t(s.B) * s.H * s.N * s.D * data.elem));
            buffers.insert(buffers.end(), {perm, qf, q_rows});
            if (wanted("group"))
              bench(name + " group", [&, d, dr, perm, qf](int set) {
                distr::group_blocks(data.call(set), d, dr, static_cast<uint8_t*>(perm), qf, nullptr);
              });
            // The expanded path's prologue alone (Q' rows of D columns).
            if (wanted("expand"))
              bench(name + " expand", [&, d, dr, perm, q_rows](int set) {
                distr::expand_blocks(data.call(set), d, dr, static_cast<uint8_t*>(perm), q_rows, {}, nullptr);
              });
          }
          // Sanity: distr vs exact on set 0 (approximation error, not a correctness check).
          attention_distr(data.call(0), d, dr, nullptr);
          attention_exact(data.reference_call(0), nullptr);
          const float diff = data.max_output_difference();
          std::printf("%-16s %-14s max |distr - exact| = %.3g\n", shape_name, name.c_str(), diff);
        }
      }
      if (!pending_calls.empty()) {
        const std::vector<Timing> timings = time_interleaved(pending_calls, data.sets, warmup, reps);
        for (size_t i = 0; i < timings.size(); ++i) report(pending_names[i], timings[i].median_ms);
      }
      for (float* p : projections) CUDA_CHECK(cudaFree(p));
      for (void* b : buffers) CUDA_CHECK(cudaFree(b));

      auto cell = [&](const std::string& k) {
        auto it = t.find(k);
        return time_cell(it == t.end() ? NAN : it->second, data.flops());
      };
      auto ratio = [&](const std::string& a, const std::string& b) {
        if (!t.count(a) || !t.count(b)) return std::string("-");
        char buf[16];
        std::snprintf(buf, sizeof buf, "%.2fx", t[b] / t[a]);
        return std::string(buf);
      };
      const int G0 = groups.front();
      const std::string d16 = distr_name(G0, "16"), d64 = distr_name(G0, "64"), d128 = distr_name(G0, "128"),
                        dN = distr_name(G0, "N");
      char line[640];
      std::snprintf(line, sizeof line, "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |", shape_name,
                    cell("exact").c_str(), cell("cudnn").c_str(), cell(d16).c_str(), cell(d64).c_str(),
                    cell(d128).c_str(), cell(dN).c_str(), cell(d64 + " group").c_str(), ratio(d64, "exact").c_str(),
                    ratio(d64, "cudnn").c_str(), ratio(dN, "exact").c_str(), ratio(dN, "cudnn").c_str());
      summary.push_back(line);
    }
    std::printf("\nms / effective TFLOP/s (%s, %s, G=%d, mean, P=16)\n"
                "| B x H x N x d | exact (ours) | cuDNN | distr l=16 | distr l=64 | distr l=128 | distr l=N "
                "| grouping alone (l=64) | l=64 vs exact / cuDNN | l=N vs exact / cuDNN |\n"
                "|---|---|---|---|---|---|---|---|---|---|\n",
                prop.name, dtype_arg.c_str(), groups.front());
    for (const auto& l : summary) std::printf("%s\n", l.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distr_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
