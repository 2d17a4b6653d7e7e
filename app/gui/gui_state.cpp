#include "gui_state.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace distrvit::gui {

GuiState::GuiState(GuiOptions gui_options, media::Pipeline& live_pipeline)
    : options(std::move(gui_options)), pipeline(live_pipeline), config(options.config) {
  choice = choice_from_text(config.attention);
  attention_text = config.attention;
  model_text = config.model;
  view.head = options.attention_head;
  sweep_folder = options.sweep_folder;
  sweep_images = options.sweep_images;
  sweep_attentions = options.sweep_attentions;
  if (options.source.kind == media::SourceSpec::Kind::Camera) camera_index = options.source.camera_index;
}

uint64_t GuiState::apply_config() {
  config_version = pipeline.configure(config);
  return config_version;
}

void GuiState::set_attention_text(const std::string& text) {
  choice = choice_from_text(text);
  attention_text = text;
  config.attention = text;
  apply_config();
}

void GuiState::apply_choice() {
  attention_text = choice.text();
  config.attention = attention_text;
  apply_config();
}

void GuiState::start_sweep() {
  media::SweepSettings settings;
  settings.folder = sweep_folder;
  std::stringstream lines(sweep_attentions);
  for (std::string line; lines >> line;) settings.attentions.push_back(line);
  settings.max_images = static_cast<size_t>(std::max(1, sweep_images));
  settings.engine = config;
  const media::PipelineConfig running = pipeline.config();
  if (status.model && !media::needs_new_engines(running, config)) settings.model = status.model;  // no second load
  sweep.start(std::move(settings));
}

void GuiState::open_source(const media::SourceSpec& source) { pipeline.open(source); }

void GuiState::open_paths(const std::vector<std::string>& paths) {
  if (paths.empty()) return;
  std::error_code error;
  if (paths.size() == 1 && media::is_video_file_name(paths.front()) &&
      !std::filesystem::is_directory(paths.front(), error)) {
    open_source(media::SourceSpec::video(paths.front()));
  } else {
    open_source(media::SourceSpec::images(paths));
  }
}

}  // namespace distrvit::gui
