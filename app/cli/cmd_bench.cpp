// distrvit bench: forward latency percentiles and images/s per (batch, attention) from a preprocessed tensor.
// The percentiles are the engine's own timing (last_timing: CUDA events on the GPU); "wall p50" is the host clock
// around the whole forward call (staging the input, upload, compute, download, copying the logits out).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "distrvit/calibrate.h"
#include "distrvit/text_file.h"

namespace distrvit::cli {
namespace {

struct BenchOptions {
  ModelOptions model;
  std::string random_arch;  // e.g. vit_base_patch16_224: random weights instead of a checkpoint
  std::vector<int> batches{1, 8, 64};
  std::string attention = "exact";
  int warmup = 10;
  int iterations = 50;
  std::string json_path;
};

double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, size_t(q * (values.size() - 1) + 0.5));
  return values[index];
}

void run_bench(const BenchOptions& o) {
  std::shared_ptr<const VitModel> model =
      o.random_arch.empty() ? o.model.load()
                            : std::make_shared<const VitModel>(random_model(o.random_arch, o.model.image_size));
  const EngineOptions engine_options = o.model.engine_options();
  auto engine = create_engine(model, engine_options);
  const VitConfig& c = model->config;
  nlohmann::json results = nlohmann::json::array();
  std::printf("%-18s %-34s %6s %10s %10s %10s %12s %10s %12s\n", "model", "attention", "batch", "p50 ms", "p90 ms",
              "p99 ms", "images/s", "attn ms", "wall p50 ms");
  for (const std::string& attention : split_attention_list(o.attention)) {
    engine->set_attention(resolve_attention(attention, *model));
    for (int batch : o.batches) {
      Tensor input({batch, c.in_chans, c.image_height, c.image_width});
      std::mt19937 rng(1);
      std::normal_distribution<float> dist(0.f, 1.f);
      for (float& x : input.data) x = dist(rng);
      for (int i = 0; i < o.warmup; ++i) engine->forward(input);
      std::vector<double> ms, attention_ms, wall_ms;
      for (int i = 0; i < o.iterations; ++i) {
        const auto start = std::chrono::steady_clock::now();
        engine->forward(input);
        wall_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        ms.push_back(engine->last_timing().total_ms);
        attention_ms.push_back(engine->last_timing().attention_ms);
      }
      const double p50 = percentile(ms, 0.5), p90 = percentile(ms, 0.9), p99 = percentile(ms, 0.99);
      const double images_per_second = batch / (p50 / 1000.0);
      const double attn = percentile(attention_ms, 0.5), wall_p50 = percentile(wall_ms, 0.5);
      std::printf("%-18s %-34s %6d %10.3f %10.3f %10.3f %12.1f %10.3f %12.3f\n", c.architecture.substr(0, 18).c_str(),
                  attention.c_str(), batch, p50, p90, p99, images_per_second, attn, wall_p50);
      std::fflush(stdout);
      results.push_back({{"model", c.architecture}, {"attention", attention}, {"batch", batch}, {"p50_ms", p50},
                         {"p90_ms", p90}, {"p99_ms", p99}, {"images_per_second", images_per_second},
                         {"attention_ms", attn}, {"wall_p50_ms", wall_p50}, {"device", engine->device_name()},
                         {"precision", precision_name(engine_options.precision)}, {"image_size", c.image_height}});
    }
  }
  if (!o.json_path.empty()) write_text_file(o.json_path, results.dump(2) + "\n");
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand("bench", "latency percentiles and images/s per batch size and attention");
  options->model.add_to(*command);
  command->add_option("--random", options->random_arch, "use random weights of this architecture (e.g. vit_base_patch16_224)");
  command->add_option("--batch,-b", options->batches, "batch sizes, e.g. 1,8,64,256")->delimiter(',')->capture_default_str();
  command->add_option("--attention", options->attention, "comma-separated attention configurations")->capture_default_str();
  command->add_option("--warmup", options->warmup, "untimed iterations")->capture_default_str();
  command->add_option("--iterations,-n", options->iterations, "timed iterations")->capture_default_str()->check(CLI::Range(1, 100000));
  command->add_option("--json", options->json_path, "write results as JSON");
  command->callback([options] { run_bench(*options); });
}

}  // namespace distrvit::cli
