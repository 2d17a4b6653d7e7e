#include "common.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "distrvit/hub.h"

namespace distrvit::cli {

void ModelOptions::add_to(CLI::App& command) {
  command.add_option("--model,-m", model, "checkpoint folder, .safetensors file or hub id (default: " +
                                               std::string(kDefaultHubId) + ")");
  command.add_option("--device,-d", device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  command.add_option("--precision", precision, "fp32, fp16 or bf16 (default: fp16 on CUDA, fp32 on CPU)");
  command.add_option("--threads", threads, "CPU threads (0 = all cores)");
  command.add_option("--image-size", image_size, "run at this square input size (position embedding resampled)");
}

std::shared_ptr<const VitModel> ModelOptions::load() const {
  HubOptions hub;
  const bool tty = isatty(fileno(stderr));
  hub.progress = [tty, last = size_t(0)](const std::string& file, size_t done, size_t total) mutable {
    if (!tty && done != total && done - last < (size_t(16) << 20)) return;
    last = done;
    std::fprintf(stderr, "%sdownloading %s: %.1f / %.1f MB%s", tty ? "\r" : "", file.c_str(), done / 1e6, total / 1e6,
                 tty && done != total ? "" : "\n");
  };
  const std::string folder = resolve_model(model.empty() ? default_model_spec() : model, hub);
  LoadOptions options;
  options.image_size = image_size;
  return std::make_shared<const VitModel>(load_model(folder, options));
}

EngineOptions ModelOptions::engine_options() const {
  EngineOptions options = parse_device(device);
  if (!precision.empty()) options.precision = parse_precision(precision);
  options.threads = threads;
  return options;
}

std::vector<std::string> split_attention_list(const std::string& text) {
  static const char* kKinds[] = {"exact", "cudnn", "naive", "distr", "lowrank", "plan"};
  std::vector<std::string> configs;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',') continue;
    bool starts_config = i == text.size();
    for (const char* kind : kKinds) starts_config = starts_config || text.compare(i + 1, std::strlen(kind), kind) == 0;
    if (!starts_config) continue;
    configs.push_back(text.substr(start, i - start));
    start = i + 1;
  }
  return configs;
}

void print_progress(const std::string& label, size_t done, size_t total, double seconds) {
  static const bool tty = isatty(fileno(stderr));
  static size_t last_tenth = 0;  // without a terminal, one line per tenth of the work
  const size_t tenth = total ? 10 * done / total : 10;
  if (!tty && done != total && tenth == last_tenth) return;
  last_tenth = tenth;
  constexpr int kWidth = 30;
  const int filled = total ? int(kWidth * done / total) : kWidth;
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  std::fprintf(stderr, "%s%s [%s] %zu/%zu %.1f img/s%s", tty ? "\r" : "", label.c_str(), bar.c_str(), done, total,
               seconds > 0 ? done / seconds : 0.0, tty && done != total ? "" : "\n");
}

}  // namespace distrvit::cli
