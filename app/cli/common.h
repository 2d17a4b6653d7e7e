// Options shared by the subcommands: which model, device, precision and attention.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "distrvit/engine.h"
#include "distrvit/model.h"

namespace distrvit::cli {

struct ModelOptions {
  std::string model;  // file, folder or hub id; empty = default_model_spec()
  std::string device = "auto";
  std::string precision;  // empty = fp16 on CUDA, fp32 on CPU
  int threads = 0;
  int image_size = 0;

  void add_to(CLI::App& command);
  std::shared_ptr<const VitModel> load() const;  // resolves hub ids with a progress line on stderr
  EngineOptions engine_options() const;
};

// Splits "exact,distr:l=64:G=2:layers=6-11,2" into configurations: a comma starts a new one only
// when a known attention kind follows it.
std::vector<std::string> split_attention_list(const std::string& text);

// Prints a progress bar on stderr: "label [=====>    ] done/total rate".
void print_progress(const std::string& label, size_t done, size_t total, double seconds);

}  // namespace distrvit::cli
