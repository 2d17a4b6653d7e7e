// distrvit-gui's command line: the source, the configuration to start with, and the headless run mode.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "frame_source.h"
#include "pipeline_config.h"

namespace distrvit::gui {

struct GuiOptions {
  media::SourceSpec source;  // Kind::None: start without one
  media::PipelineConfig config;
  media::PlaybackOptions playback;
  int attention_head = -1;  // head shown in the heat-maps; -1 = mean over heads

  // Headless runs: stop after `frames` classified frames and/or the script, then write the screenshot.
  int frames = 0;
  std::string script;
  std::string screenshot;  // PNG; a JSON report is written next to it (same name, .json)
  std::string report;      // JSON report path; default derived from `screenshot`
  double timeout_s = 120;  // a headless run that has not finished by then fails

  int window_width = 1600;
  int window_height = 1000;
  std::string sweep_folder;
  int sweep_images = 50;
  std::string sweep_attentions = "exact\ndistr:l=16:G=2\ndistr:l=64:G=2\ndistr:l=197:G=2\ndistr:l=16:G=4";

  bool headless_run() const { return frames > 0 || !script.empty(); }
  std::string report_path() const;
};

// Parses argv; prints help or an error and returns the exit code when the program should stop.
std::optional<int> parse_gui_options(int argc, char** argv, GuiOptions& options);

}  // namespace distrvit::gui
