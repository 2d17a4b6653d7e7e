// DistrAttention on the GPU (kernels/attention_distr.cu) against the CPU reference attention_distr_cpu.
//
// Table: dtype {f16, bf16} x D {64, 128} x N {1, 7, 197, 577, 1025} x l {16, 64, 197} x G {1, 2, 4} x
// variant {mean, sample}, subsampled deterministically (every case with N <= 7, about a third of the rest),
// plus G = 8, P = 32 / P = 1, and F32 (generic path) rows. B = 2, H = 3 on the fused layout [B, N, 3, H, D].
// For every row: fresh N(0, 1) inputs rounded to the dtype; the same R (distr_projection(distr, l)) on both
// sides; then
//   1. grouping: the GPU prologue's permutation of every (b, h, block) equals distr_group_block on the float
//      copies, bit for bit (the hash dots are summed in the same order with the same roundings);
//   1b. the expanded path's prologue (short-block and general kernels): the same permutations, and Q' equal to the
//      CPU's Q~ of each column's group, bit for bit;
//   2. every path (auto, fused64, fused128, generic, and hopper / prefused / expanded where they fit): output
//      poisoned with NaN before the run, every element written and finite, max |gpu - cpu| <= tol (fp16 2e-3 ..
//      bf16 2e-2 like the exact kernel's test, times 2: Q~ and K~ are rounded to the dtype before the tensor cores,
//      the CPU keeps them in fp32).
// "distr: G = 1 equals exact" checks attention_distr(G = 1) == attention_exact (the dispatch) bit for bit
// and the fused kernels at G = 1 (which do permute) against attention_exact within the tolerance.
// DISTRVIT_TEST_MAX_N caps N and DISTRVIT_TEST_MIN_N floors it (compute-sanitizer); DISTRVIT_TEST_SEED fixes the seed.
#include <doctest/doctest.h>

#if DISTRVIT_WITH_CUDA
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
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
#include "attention_distr.cuh"
#include "distrvit/attention.h"
#include "distrvit/distr.h"
#include "distrvit/error.h"

#include "gpu_test_util.h"

namespace {

using distrvit::test::base_seed;
using distrvit::test::decode;
using distrvit::test::DeviceBuffer;
using distrvit::test::dtype_name;
using distrvit::test::encode;
using distrvit::test::max_tokens;
using distrvit::test::min_tokens;
using distrvit::test::parallel_for;
using distrvit::test::round_to;
using distrvit::test::run_and_sync;
using distrvit::DistrParams;
using distrvit::DistrVariant;
using distrvit::cuda::DataType;
namespace dd = distrvit::cuda::distr;

double tolerance(DataType t) { return t == DataType::F32 ? 1e-4 : t == DataType::F16 ? 4e-3 : 4e-2; }

struct Case {
  DataType t;
  int B, H, N, D;
  DistrParams distr;
};

std::string describe(const Case& c) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s B=%d H=%d N=%d D=%d l=%d G=%d P=%d %s%s", dtype_name(c.t), c.B, c.H, c.N, c.D,
                c.distr.block, c.distr.group, c.distr.hash_bits,
                c.distr.variant == DistrVariant::Sample ? "sample" : "mean",
                c.distr.hash == distrvit::DistrHash::Int8 ? " i8" : "");
  return buf;
}

uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull + (h >> 29); }

uint64_t case_seed(const Case& c) {
  uint64_t h = base_seed() ^ 0x9e3779b97f4a7c15ull;
  for (uint64_t v : {uint64_t(c.t), uint64_t(c.N), uint64_t(c.D), uint64_t(c.distr.block), uint64_t(c.distr.group),
                     uint64_t(c.distr.variant), uint64_t(c.distr.hash_bits), uint64_t(c.distr.hash)})
    h = mix(h, v);
  return h;
}

std::vector<Case> table() {
  std::vector<Case> cases;
  const int limit = max_tokens();
  const int floor_n = min_tokens();
  int index = 0;
  for (DataType t : {DataType::F16, DataType::BF16})
    for (int D : {64, 128})
      for (int N : {1, 7, 197, 577, 1025})
        for (int l : {16, 64, 197})
          for (int G : {1, 2, 4})
            for (DistrVariant v : {DistrVariant::Mean, DistrVariant::Sample}) {
              const bool keep = N <= 7 || (index++ % 3 == 0);
              if (!keep || N > limit || N < floor_n) continue;
              DistrParams d;
              d.block = l;
              d.group = G;
              d.variant = v;
              d.hash_bits = 16;
              d.seed = 1000 + cases.size();
              cases.push_back({t, 2, 3, N, D, d});
            }
  // Extremes: G = 8 (E = 8 < 16 at D = 64: padded k step), P = 32 and P = 1, l = 128, l > N, long blocks, F32.
  auto extra = [&](DataType t, int N, int D, int l, int G, DistrVariant v, int P) {
    if (N > limit || N < floor_n) return;
    DistrParams d;
    d.block = l;
    d.group = G;
    d.variant = v;
    d.hash_bits = P;
    d.seed = 77 + cases.size();
    cases.push_back({t, 2, 3, N, D, d});
  };
  extra(DataType::F16, 197, 64, 64, 8, DistrVariant::Mean, 16);
  extra(DataType::BF16, 577, 128, 128, 8, DistrVariant::Sample, 16);
  extra(DataType::F16, 577, 64, 128, 2, DistrVariant::Mean, 32);
  extra(DataType::F16, 197, 128, 64, 4, DistrVariant::Mean, 1);
  extra(DataType::BF16, 300, 64, 1024, 2, DistrVariant::Mean, 16);
  extra(DataType::F16, 1025, 64, 256, 2, DistrVariant::Sample, 16);
  // Blocks of > 256 rows: hashed chunk by chunk (distr_hash_partials_kernel), Q~ by a thread block per 256 rows;
  // a short last block, 1 .. 16 bits per thread, odd P, F32.
  extra(DataType::F16, 1500, 64, 2048, 2, DistrVariant::Mean, 16);
  extra(DataType::BF16, 2100, 128, 1050, 4, DistrVariant::Sample, 32);
  extra(DataType::F16, 300, 128, 300, 2, DistrVariant::Mean, 32);
  extra(DataType::BF16, 400, 64, 400, 4, DistrVariant::Mean, 5);
  extra(DataType::F32, 600, 64, 520, 2, DistrVariant::Sample, 16);
  extra(DataType::F32, 300, 128, 300, 4, DistrVariant::Mean, 16);  // Q rows too wide to stage in smem
  extra(DataType::F32, 197, 64, 64, 2, DistrVariant::Mean, 16);
  extra(DataType::F32, 77, 128, 16, 4, DistrVariant::Sample, 16);
  extra(DataType::F32, 7, 64, 64, 1, DistrVariant::Mean, 16);
  // Int8 hash (distr.h): the short prologue's tensor-core dots (l <= 64, P <= 16) and the general codes kernels (any
  // l, P, dtype; long blocks summed over 256-row chunks).
  const size_t fma_cases = cases.size();
  for (DataType t : {DataType::F16, DataType::BF16})
    for (int D : {64, 128})
      for (int N : {7, 197, 577})
        for (int l : {16, 50, 64, 197}) extra(t, N, D, l, 2, DistrVariant::Mean, 16);
  extra(DataType::F16, 197, 64, 64, 4, DistrVariant::Sample, 16);
  extra(DataType::F16, 197, 128, 32, 8, DistrVariant::Mean, 9);
  extra(DataType::BF16, 300, 64, 64, 2, DistrVariant::Mean, 32);
  extra(DataType::F16, 1500, 64, 2048, 2, DistrVariant::Mean, 16);
  extra(DataType::BF16, 2100, 128, 1050, 4, DistrVariant::Sample, 1);
  extra(DataType::F32, 197, 64, 64, 2, DistrVariant::Mean, 16);
  extra(DataType::F32, 300, 128, 300, 4, DistrVariant::Mean, 16);
  extra(DataType::F16, 7, 64, 64, 1, DistrVariant::Mean, 16);
  for (size_t i = fma_cases; i < cases.size(); ++i) cases[i].distr.hash = distrvit::DistrHash::Int8;
  return cases;
}

std::vector<float> random_qkv(const Case& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> qkv(size_t(c.B) * c.N * 3 * c.H * c.D);
  for (float& x : qkv) x = round_to(c.t, normal(rng));
  return qkv;
}

distrvit::AttentionParams head_view(const distrvit::AttentionParams& full, int b, int h) {
  distrvit::AttentionParams p = full;
  const int64_t in = b * full.qkv_batch_stride + h * full.qkv_head_stride;
  p.q += in;
  p.k += in;
  p.v += in;
  p.out += b * full.out_batch_stride + h * full.out_head_stride;
  p.batch = 1;
  p.heads = 1;
  return p;
}

void run_case(const Case& c) {
  const std::string what = describe(c);
  INFO(what);
  const size_t elem = distrvit::cuda::data_type_size(c.t);
  const size_t out_count = size_t(c.B) * c.N * c.H * c.D;
  const std::vector<float> qkv = random_qkv(c, case_seed(c));

  // CPU reference on the float copies, per (b, h) in parallel.
  std::vector<float> ref(out_count, 0.0f);
  const auto full = distrvit::AttentionParams::from_qkv(qkv.data(), ref.data(), c.B, c.N, c.H, c.D);
  parallel_for(c.B * c.H, [&](int bh) { distrvit::attention_distr_cpu(head_view(full, bh / c.H, bh % c.H), c.distr); });

  const std::vector<float> projection = distrvit::distr_projection(c.distr, c.distr.block);
  const std::vector<uint8_t> qkv_bytes = encode(qkv, c.t);
  DeviceBuffer d_qkv(qkv_bytes.size()), d_out(out_count * elem), d_r(projection.size() * sizeof(float));
  CHECK_CUDA_OK(cudaMemcpy(d_qkv.ptr, qkv_bytes.data(), qkv_bytes.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA_OK(cudaMemcpy(d_r.ptr, projection.data(), projection.size() * sizeof(float), cudaMemcpyHostToDevice));
  const auto p = distrvit::cuda::AttentionDeviceParams::from_qkv(d_qkv.ptr, d_out.ptr, c.t, c.B, c.N, c.H, c.D);
  const float* R = static_cast<const float*>(d_r.ptr);

  // 1. Grouping, bit for bit.
  {
    const int nblocks = dd::num_blocks(c.N, c.distr.block), l = std::min(c.distr.block, c.N);
    const int fw = dd::fused_width(c.D, c.distr.group);
    DeviceBuffer d_perm(size_t(c.B) * c.H * nblocks * c.D), d_qf(size_t(c.B) * c.H * c.N * fw * elem);
    const std::string error =
        run_and_sync([&] { dd::group_blocks(p, c.distr, R, static_cast<uint8_t*>(d_perm.ptr), d_qf.ptr, nullptr); });
    if (!error.empty()) {
      std::printf("group %s  ERROR %s\n", what.c_str(), error.c_str());
      FAIL_CHECK("group_blocks threw: " << error);
    } else {
      std::vector<uint8_t> perm(size_t(c.B) * c.H * nblocks * c.D);
      CHECK_CUDA_OK(cudaMemcpy(perm.data(), d_perm.ptr, perm.size(), cudaMemcpyDeviceToHost));
      std::atomic<int> mismatched_blocks{0};
      parallel_for(c.B * c.H, [&](int bh) {
        const distrvit::AttentionParams hv = head_view(full, bh / c.H, bh % c.H);
        for (int blk = 0; blk < nblocks; ++blk) {
          const int start = blk * l, rows = std::min(l, c.N - start);
          const auto g = distrvit::distr_group_block(hv.q + start * hv.qkv_token_stride, hv.qkv_token_stride, rows,
                                                     c.D, projection.data(), c.distr.hash_bits, c.distr.hash);
          const uint8_t* gp = &perm[(size_t(bh) * nblocks + blk) * c.D];
          for (int i = 0; i < c.D; ++i)
            if (gp[i] != g.order[i]) {
              ++mismatched_blocks;
              break;
            }
        }
      });
      std::printf("group %-44s blocks %d x %d, permutations differing from the CPU: %d  %s\n", what.c_str(),
                  c.B * c.H, nblocks, mismatched_blocks.load(), mismatched_blocks == 0 ? "ok" : "FAIL");
      CHECK_MESSAGE(mismatched_blocks == 0, "GPU grouping differs from distr_group_block");
    }
  }

  // 1b. The expanded path's prologue, by the short-block kernel (where it applies; also as a single thread block whose
  //     pairs each loop over many l-blocks) and by the general one: the same permutations, and Q' [B*H][N][D]
  //     holding at column c the CPU's Q~ value of c's group, bit for bit.
  if (c.t != DataType::F32 && c.distr.group != 1) {
    const int nblocks = dd::num_blocks(c.N, c.distr.block), l = std::min(c.distr.block, c.N), G = c.distr.group;
    const std::pair<const char*, dd::ExpandKernel> kernels[] = {
        {"short", {true, 0}}, {"short, 1 block", {true, 1}}, {"general", {false, 0}}};
    for (const auto& [kernel_name, kernel] : kernels) {
      const size_t q_count = size_t(c.B) * c.H * c.N * c.D;
      DeviceBuffer d_perm(size_t(c.B) * c.H * nblocks * c.D), d_qe(q_count * elem);
      CHECK_CUDA_OK(cudaMemset(d_qe.ptr, 0xFF, q_count * elem));  // poison: NaN in every dtype
      const std::string error = run_and_sync([&] {
        dd::expand_blocks(p, c.distr, R, static_cast<uint8_t*>(d_perm.ptr), d_qe.ptr, kernel, nullptr);
      });
      if (!error.empty()) {
        std::printf("expand %s  ERROR %s\n", what.c_str(), error.c_str());
        FAIL_CHECK("expand_blocks threw: " << error);
        continue;
      }
      std::vector<uint8_t> perm(size_t(c.B) * c.H * nblocks * c.D), qe_bytes(q_count * elem);
      CHECK_CUDA_OK(cudaMemcpy(perm.data(), d_perm.ptr, perm.size(), cudaMemcpyDeviceToHost));
      CHECK_CUDA_OK(cudaMemcpy(qe_bytes.data(), d_qe.ptr, qe_bytes.size(), cudaMemcpyDeviceToHost));
      const std::vector<float> qe = decode(qe_bytes, c.t);
      std::atomic<int> bad_perms{0}, bad_values{0};
      parallel_for(c.B * c.H, [&](int bh) {
        const distrvit::AttentionParams hv = head_view(full, bh / c.H, bh % c.H);
        for (int blk = 0; blk < nblocks; ++blk) {
          const int start = blk * l, rows = std::min(l, c.N - start);
          const float* q_block = hv.q + start * hv.qkv_token_stride;
          const auto g = distrvit::distr_group_block(q_block, hv.qkv_token_stride, rows, c.D, projection.data(),
                                                     c.distr.hash_bits, c.distr.hash);
          const uint8_t* gp = &perm[(size_t(bh) * nblocks + blk) * c.D];
          std::vector<int> rank(c.D);
          for (int i = 0; i < c.D; ++i) {
            rank[g.order[i]] = i;
            if (gp[i] != g.order[i]) ++bad_perms;
          }
          for (int r = 0; r < rows; ++r) {
            const float* q_row = q_block + r * hv.qkv_token_stride;
            const float* got = &qe[(size_t(bh) * c.N + start + r) * c.D];
            for (int col = 0; col < c.D; ++col) {
              const int* members = &g.order[rank[col] / G * G];
              float value = 0.0f;  // as attention_distr_cpu computes Q~
              if (c.distr.variant == DistrVariant::Sample) {
                value = q_row[members[0]];
              } else {
                for (int m = 0; m < G; ++m) value += q_row[members[m]];
                value /= float(G);
              }
              const float expected = round_to(c.t, value);
              if (!(got[col] == expected && std::signbit(got[col]) == std::signbit(expected))) ++bad_values;
            }
          }
        }
      });
      std::printf("expand %-43s %s: permutations differing %d, Q' values differing %d  %s\n", what.c_str(),
                  kernel_name, bad_perms.load(), bad_values.load(),
                  bad_perms == 0 && bad_values == 0 ? "ok" : "FAIL");
      CHECK_MESSAGE(bad_perms == 0, "expanded prologue's permutation differs from distr_group_block");
      CHECK_MESSAGE(bad_values == 0, "Q' differs from the CPU's Q~ of the column's group");
    }
  }

  // 2. Every path against the CPU reference.
  std::vector<dd::Path> paths = {dd::Path::kAuto, dd::Path::kGeneric};
  if (c.t != DataType::F32) paths.insert(paths.begin() + 1, {dd::Path::kFused64, dd::Path::kFused128});
  if (dd::hopper_fits(p, c.distr)) paths.insert(paths.end(), {dd::Path::kHopper0, dd::Path::kHopper1});
  if (dd::prefused_fits(p, c.distr)) paths.push_back(dd::Path::kPrefused);
  if (dd::expanded_fits(p, c.distr)) paths.push_back(dd::Path::kExpanded);
  for (dd::Path path : paths) {
    if (path == dd::Path::kAuto && c.distr.group == 1) continue;  // = attention_exact: its own test case
    INFO(dd::path_name(path));
    CHECK_CUDA_OK(cudaMemset(d_out.ptr, 0xFF, out_count * elem));  // poison: NaN in every dtype
    const std::string error = run_and_sync([&] { dd::run(p, c.distr, R, path, nullptr); });
    if (!error.empty()) {
      std::printf("%-8s %s  ERROR %s\n", dd::path_name(path), what.c_str(), error.c_str());
      FAIL_CHECK("threw: " << error);
      continue;
    }
    std::vector<uint8_t> out_bytes(out_count * elem);
    CHECK_CUDA_OK(cudaMemcpy(out_bytes.data(), d_out.ptr, out_bytes.size(), cudaMemcpyDeviceToHost));
    const std::vector<float> out = decode(out_bytes, c.t);
    size_t bad = 0;
    double err = 0;
    for (size_t i = 0; i < out_count; ++i) {
      if (!std::isfinite(out[i])) {
        ++bad;
        continue;
      }
      err = std::max(err, std::abs(double(out[i]) - ref[i]));
    }
    const bool ok = bad == 0 && err <= tolerance(c.t);
    std::printf("%-8s %-44s |gpu-cpu| %.2e (tol %.0e)  %s\n", dd::path_name(path), what.c_str(), err,
                tolerance(c.t), ok ? "ok" : "FAIL");
    CHECK_MESSAGE(bad == 0, bad << " of " << out_count << " outputs not written or not finite");
    CHECK(err <= tolerance(c.t));
  }
}

}  // namespace
#endif  // DISTRVIT_WITH_CUDA

TEST_CASE("distr: attention_distr vs CPU reference") {
#if DISTRVIT_WITH_CUDA
  for (const Case& c : table()) run_case(c);
#endif
}

// G = 1: attention_distr dispatches to attention_exact (bitwise equal); the fused kernels, which still
// permute the columns of Q and K, agree with it up to fp32 summation order.
TEST_CASE("distr: G = 1 equals exact") {
#if DISTRVIT_WITH_CUDA
  for (DataType t : {DataType::F16, DataType::BF16}) {
    for (int D : {64, 128}) {
      for (int N : {7, 197, 1025}) {
        if (N > max_tokens() || N < min_tokens()) continue;
        Case c{t, 2, 3, N, D, {}};
        c.distr.block = 64;
        c.distr.group = 1;
        INFO(describe(c));
        const std::vector<float> qkv = random_qkv(c, case_seed(c) + 5);
        const std::vector<uint8_t> bytes = encode(qkv, t);
        const size_t elem = distrvit::cuda::data_type_size(t), count = size_t(c.B) * N * c.H * D;
        const std::vector<float> r = distrvit::distr_projection(c.distr, c.distr.block);
        DeviceBuffer d_qkv(bytes.size()), d_exact(count * elem), d_out(count * elem), d_r(r.size() * 4);
        CHECK_CUDA_OK(cudaMemcpy(d_qkv.ptr, bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
        CHECK_CUDA_OK(cudaMemcpy(d_r.ptr, r.data(), r.size() * 4, cudaMemcpyHostToDevice));
        auto p = distrvit::cuda::AttentionDeviceParams::from_qkv(d_qkv.ptr, d_exact.ptr, t, c.B, N, c.H, D);
        distrvit::cuda::attention_exact(p, nullptr);
        p.out = d_out.ptr;
        std::vector<uint8_t> exact(count * elem), got(count * elem);
        for (dd::Path path : {dd::Path::kAuto, dd::Path::kFused64, dd::Path::kFused128}) {
          CHECK_CUDA_OK(cudaMemset(d_out.ptr, 0xFF, count * elem));
          dd::run(p, c.distr, static_cast<const float*>(d_r.ptr), path, nullptr);
          CHECK_CUDA_OK(cudaDeviceSynchronize());
          CHECK_CUDA_OK(cudaMemcpy(exact.data(), d_exact.ptr, exact.size(), cudaMemcpyDeviceToHost));
          CHECK_CUDA_OK(cudaMemcpy(got.data(), d_out.ptr, got.size(), cudaMemcpyDeviceToHost));
          const std::vector<float> e = decode(exact, t), g = decode(got, t);
          double err = 0;
          size_t bad = 0;
          for (size_t i = 0; i < count; ++i) {
            if (!std::isfinite(g[i])) ++bad;
            else err = std::max(err, double(std::abs(g[i] - e[i])));
          }
          const double tol = path == dd::Path::kAuto ? 0.0 : tolerance(t);
          std::printf("G=1 %-8s %-4s N=%-4d D=%-3d |distr-exact| %.2e (tol %.0e)  %s\n", dd::path_name(path),
                      dtype_name(t), N, D, err, tol, bad == 0 && err <= tol ? "ok" : "FAIL");
          CHECK(bad == 0);
          CHECK(err <= tol);
        }
      }
    }
  }
#endif
}
