// The distrvit subcommands; each file cmd_<name>.cpp adds one to the CLI11 app.
#pragma once
#include <CLI/CLI.hpp>

namespace distrvit::cli {

void add_classify_command(CLI::App& app);
void add_infer_command(CLI::App& app);
void add_validate_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);
void add_webcam_command(CLI::App& app);

}  // namespace distrvit::cli
