// The CPU engine's own parallelism and vector math: the worker pool runs every item once and passes errors on,
// GELU, softmax and LayerNorm match double-precision references, and the logits do not depend on the thread count.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "distrvit/attention_plan.h"
#include "distrvit/engine.h"
#include "distrvit/model.h"
#include "distrvit/ops_cpu.h"
#include "worker_pool.h"

using namespace distrvit;

namespace {

// 0.5 x (1 + erf(x / sqrt 2)), written with erfc so that the negative tail keeps its digits.
double gelu_reference(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

TEST_CASE("cpu ops: GELU stays within 6e-7 relative of double precision, far negative tail included") {
  std::vector<float> x;
  for (double v = -14.0; v <= 12.0; v += 1.0 / 1024) x.push_back(float(v));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-6f, 30.0f, -30.0f, 1e30f, -1e30f}) x.push_back(v);
  std::vector<float> y = x;
  gelu_cpu(y.data(), int64_t(y.size()));  // odd count: the vector path's tail is included
  double worst = 0, worst_x = 0, worst_underflow = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = gelu_reference(x[i]), error = std::abs(y[i] - ref);
    if (std::abs(ref) < 1e-30) {  // beyond x = -11.4: flushed to zero or subnormal
      worst_underflow = std::max(worst_underflow, error);
    } else if (error / std::abs(ref) > worst) {
      worst = error / std::abs(ref), worst_x = x[i];
    }
  }
  CAPTURE(worst_x);
  CHECK(worst < 6e-7);
  CHECK(worst_underflow < 1e-30);

  std::vector<float> special = {INFINITY, NAN, 0.5f};
  gelu_cpu(special.data(), 3);
  CHECK(special[0] == INFINITY);
  CHECK(std::isnan(special[1]));
}

TEST_CASE("cpu ops: softmax rows match double precision at every row length, -inf giving 0") {
  // Probabilities down to e^-80: the rounding of x - max (half an ulp of 80) alone moves them by 4e-6 relative.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-40.0f, 40.0f);
  for (int cols : {1, 2, 7, 8, 9, 15, 16, 17, 197, 1001}) {
    const int rows = 3;
    std::vector<float> x(size_t(rows) * cols);
    for (float& v : x) v = value(rng);
    if (cols > 2) x[1] = -std::numeric_limits<float>::infinity();
    std::vector<float> y = x;
    softmax_rows_cpu(y.data(), rows, cols);
    double worst = 0;
    for (int r = 0; r < rows; ++r) {
      const float* in = x.data() + size_t(r) * cols;
      double max_value = -INFINITY, sum = 0;
      for (int c = 0; c < cols; ++c) max_value = std::max(max_value, double(in[c]));
      for (int c = 0; c < cols; ++c) sum += std::exp(double(in[c]) - max_value);
      for (int c = 0; c < cols; ++c) {
        const double ref = std::exp(double(in[c]) - max_value) / sum;
        worst = std::max(worst, std::abs(y[size_t(r) * cols + c] - ref) / (ref + 1e-30));
      }
    }
    CAPTURE(cols);
    CHECK(worst < 1e-5);
    if (cols > 2) CHECK(y[1] == 0.0f);
  }
}

TEST_CASE("cpu ops: LayerNorm matches double precision at odd widths, rows far from zero included") {
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (int cols : {1, 7, 8, 9, 192, 769}) {
    for (float offset : {0.0f, 300.0f}) {
      const int rows = 4;
      std::vector<float> x(size_t(rows) * cols), gamma(cols), beta(cols), y(x.size());
      for (float& v : x) v = offset + noise(rng);
      for (float& v : gamma) v = 1.0f + 0.5f * noise(rng);
      for (float& v : beta) v = noise(rng);
      layernorm_cpu(x.data(), gamma.data(), beta.data(), y.data(), rows, cols, 1e-6f);
      double worst = 0;
      for (int r = 0; r < rows; ++r) {
        const float* in = x.data() + size_t(r) * cols;
        double mean = 0, square = 0;
        for (int c = 0; c < cols; ++c) mean += in[c];
        mean /= cols;
        for (int c = 0; c < cols; ++c) square += (in[c] - mean) * (in[c] - mean);
        const double rstd = 1.0 / std::sqrt(square / cols + 1e-6);
        for (int c = 0; c < cols; ++c) {
          const double ref = (in[c] - mean) * rstd * gamma[c] + beta[c];
          worst = std::max(worst, std::abs(y[size_t(r) * cols + c] - ref));
        }
      }
      CAPTURE(cols);
      CAPTURE(offset);
      CHECK(worst < 2e-6);
    }
  }
}

TEST_CASE("worker pool: every item runs once, on a thread index of the pool, run after run") {
  for (int threads : {1, 2, 5}) {
    WorkerPool pool(threads);
    REQUIRE(pool.threads() == threads);
    for (size_t count : {size_t(0), size_t(1), size_t(2), size_t(7), size_t(1000)}) {
      for (int repeat = 0; repeat < 200; ++repeat) {
        std::vector<std::atomic<int>> runs(count);
        std::atomic<int> bad_thread{0};
        pool.run(count, [&](size_t item, int thread) {
          runs[item]++;
          if (thread < 0 || thread >= threads) bad_thread++;
        });
        int wrong = 0;
        for (auto& r : runs) wrong += r.load() != 1;
        CAPTURE(threads);
        CAPTURE(count);
        REQUIRE(wrong == 0);
        REQUIRE(bad_thread == 0);
      }
    }
  }
}

TEST_CASE("worker pool: a body's exception reaches the caller, and the pool keeps working") {
  WorkerPool pool(3);
  std::atomic<int> started{0};
  // 100 us an item: the items after the failing one would take 15 ms on three threads, long after it is caught.
  CHECK_THROWS_WITH_AS(pool.run(500,
                                [&](size_t item, int) {
                                  started++;
                                  if (item == 10) throw std::runtime_error("item 10 failed");
                                  std::this_thread::sleep_for(std::chrono::microseconds(100));
                                }),
                       "item 10 failed", std::runtime_error);
  CHECK(started < 500);
  std::atomic<int> done{0};
  pool.run(64, [&](size_t, int) { done++; });
  CHECK(done == 64);
}

TEST_CASE("cpu engine: logits and class-token attention do not depend on the thread count") {
  // ViT-Ti layout at 64 px (17 tokens), a mixed plan: DistrAttention and low rank on some heads, exact elsewhere.
  auto model = std::make_shared<const VitModel>(random_model("vit_tiny_patch16_224", 64, 5));
  Tensor input({3, 3, 64, 64});
  for (int64_t i = 0; i < input.numel(); ++i) input.data[i] = float(std::cos(0.11 * double(i)));
  const AttentionPlan plan = parse_attention("distr:l=8:G=2:layers=1-3:heads=0,2", 12, 3);
  std::vector<Tensor> logits, probs;
  for (int threads : {1, 2, 4}) {
    EngineOptions options;
    options.threads = threads;
    auto engine = create_engine(model, options);
    engine->set_attention(plan);
    engine->capture_cls_attention(2);
    logits.push_back(engine->forward(input));
    probs.push_back(engine->captured_cls_attention());
  }
  for (size_t i = 1; i < logits.size(); ++i) {
    REQUIRE(logits[i].shape == logits[0].shape);
    REQUIRE(probs[i].shape == probs[0].shape);
    float worst_logit = 0, worst_prob = 0;
    for (int64_t j = 0; j < logits[0].numel(); ++j)
      worst_logit = std::max(worst_logit, std::abs(logits[i].data[j] - logits[0].data[j]));
    for (int64_t j = 0; j < probs[0].numel(); ++j)
      worst_prob = std::max(worst_prob, std::abs(probs[i].data[j] - probs[0].data[j]));
    CHECK(worst_logit < 1e-5f);
    CHECK(worst_prob < 1e-6f);
  }
}
