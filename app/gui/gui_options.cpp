#include "gui_options.h"

#include <algorithm>
#include <thread>

#include <cstdio>

#include <CLI/CLI.hpp>

#include "distrvit/hub.h"
#include "gui_script.h"

namespace distrvit::gui {

std::string GuiOptions::report_path() const {
  if (!report.empty() || screenshot.empty()) return report;
  const size_t dot = screenshot.find_last_of('.');
  const size_t slash = screenshot.find_last_of('/');
  const bool has_extension = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_extension ? screenshot.substr(0, dot) : screenshot) + ".json";
}

std::optional<int> parse_gui_options(int argc, char** argv, GuiOptions& options) {
  CLI::App app{"distrvit-gui: live ViT classification with exact and approximate attention side by side"};
  app.set_version_flag("--version", "distrvit-gui 0.1.0");

  int camera = -1;
  std::string video;
  std::vector<std::string> images;
  auto* camera_option = app.add_option("--camera", camera, "open camera N (OpenCV index)");
  auto* video_option = app.add_option("--video", video, "play a video file");
  auto* images_option = app.add_option("--images", images, "image files and/or folders (searched recursively)");
  camera_option->excludes(video_option)->excludes(images_option);
  video_option->excludes(images_option);

  media::PipelineConfig& config = options.config;
  config.device = "auto";
  config.compare_exact = true;
  config.capture_attention = true;
  app.add_option("--model,-m", config.model,
                 std::string("checkpoint folder, .safetensors file or hub id (default: ") + kDefaultHubId + ")");
  app.add_option("--device,-d", config.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--precision", config.precision, "fp32, fp16 or bf16 (default: fp16 on CUDA, fp32 on CPU)");
  // The UI and its software renderer keep a core: an engine on every core leaves the window a frame every 50-100 ms
  // on a busy 2-core machine (tests/cli/gui_script.sh).
  config.threads = std::max(1, int(std::thread::hardware_concurrency()) - 1);
  app.add_option("--threads", config.threads, "CPU threads for inference (0 = all cores; default: all but one)")
      ->capture_default_str();
  app.add_option("--image-size", config.image_size, "run at this square input size");
  app.add_option("--attention", config.attention, "attention to start with (exact, distr:l=64:G=2, plan:FILE, plan:calibrated, ...)")
      ->capture_default_str();
  bool no_compare = false;
  app.add_flag("--no-compare", no_compare, "do not run exact attention beside the configured one");
  app.add_option("--layer", config.attention_layer, "layer whose class-token attention is shown (-1 = last)")
      ->capture_default_str();
  app.add_option("--head", options.attention_head, "head shown in the heat-maps (-1 = mean over heads)")
      ->capture_default_str();

  bool every_frame = false;
  bool no_loop = false;
  app.add_flag("--every-frame", every_frame, "classify every frame of a video instead of keeping real time");
  app.add_flag("--no-loop", no_loop, "stop at the end of a video or image list instead of starting over");

  app.add_option("--frames", options.frames, "headless run: stop after N classified frames")->check(CLI::NonNegativeNumber);
  app.add_option("--script", options.script,
                 "headless run: steps such as \"frames=10;attention=distr:l=64:G=2;frames=10;G=4;frames=10\"");
  app.add_option("--screenshot", options.screenshot, "at the end of a headless run, save the window as this PNG");
  app.add_option("--report", options.report, "JSON report of a headless run (default: the screenshot's name, .json)");
  app.add_option("--timeout", options.timeout_s, "a headless run that takes longer than this many seconds fails")
      ->capture_default_str();
  std::string size = std::to_string(options.window_width) + "x" + std::to_string(options.window_height);
  app.add_option("--size", size, "window size in pixels, WIDTHxHEIGHT")->capture_default_str();
  app.add_option("--sweep-folder", options.sweep_folder, "labelled image folder for the accuracy-vs-latency sweep");
  app.add_option("--sweep-images", options.sweep_images, "images per configuration in the sweep")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  std::vector<std::string> sweep_attentions;
  app.add_option("--sweep-attentions", sweep_attentions, "attention configurations the sweep compares");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (std::sscanf(size.c_str(), "%dx%d", &options.window_width, &options.window_height) != 2 ||
      options.window_width < 640 || options.window_height < 480) {
    std::fprintf(stderr, "distrvit-gui: --size %s: expected WIDTHxHEIGHT, at least 640x480\n", size.c_str());
    return 2;
  }
  if (camera >= 0) options.source = media::SourceSpec::camera(camera);
  if (!video.empty()) options.source = media::SourceSpec::video(video);
  if (!images.empty()) options.source = media::SourceSpec::images(images);
  config.compare_exact = !no_compare;
  if (!sweep_attentions.empty()) {
    options.sweep_attentions.clear();
    for (const std::string& attention : sweep_attentions) options.sweep_attentions += attention + "\n";
  }
  options.playback.pacing = every_frame ? media::Pacing::EveryFrame : media::Pacing::Realtime;
  options.playback.loop = !no_loop;
  if (!options.script.empty()) {
    try {
      parse_script(options.script);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "distrvit-gui: %s\n", e.what());
      return 2;
    }
  }
  if (!options.screenshot.empty() && !options.headless_run()) {
    std::fprintf(stderr, "distrvit-gui: --screenshot needs --frames or --script (when to take it)\n");
    return 2;
  }
  return std::nullopt;
}

}  // namespace distrvit::gui
