// distrvit: classify images, validate on ImageNet-style folders, benchmark, live video (see --help).
#include <cstdio>
#include <exception>

#include "commands.h"
#include "distrvit/error.h"

int main(int argc, char** argv) {
  CLI::App app{"distrvit: Vision Transformers with exact and approximate (DistrAttention) attention"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "distrvit 0.1.0");
  distrvit::cli::add_classify_command(app);
  distrvit::cli::add_infer_command(app);
  distrvit::cli::add_validate_command(app);
  distrvit::cli::add_bench_command(app);
  distrvit::cli::add_calibrate_command(app);
  distrvit::cli::add_webcam_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const distrvit::Error& e) {
    std::fprintf(stderr, "distrvit: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distrvit: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
