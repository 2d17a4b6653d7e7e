// What the panels share: the pipeline and sweep, the configuration the controls ask for, and what is shown.
#pragma once
#include <memory>
#include <string>

#include <imgui.h>

#include "accuracy_sweep.h"
#include "attention_choice.h"
#include "file_browser.h"
#include "gl_texture.h"
#include "gui_options.h"
#include "pipeline.h"
#include "rolling_history.h"

namespace distrvit::gui {

struct PanelRect {
  ImVec2 position;
  ImVec2 size;
};

struct PerformanceHistory {
  RollingHistory end_to_end;
  RollingHistory forward;
  RollingHistory attention;
  RollingHistory fps;
};

struct AttentionView {
  int head = -1;  // -1 = mean over heads
  float opacity = 0.7f;
  GlTexture approximate;
  GlTexture exact;
  GlTexture difference;
  int64_t uploaded_sequence = 0;  // result the textures show
  bool stale = true;              // head or opacity changed since
  float total_variation = 0;      // between the two heat-maps shown
  float max_difference = 0;       // largest |approximate - exact| patch attention
  float peak = 0;                 // largest patch attention in either map
};

struct GuiState {
  GuiState(GuiOptions options, media::Pipeline& pipeline);

  // Sends `config` to the pipeline; returns the version its results will carry.
  uint64_t apply_config();
  void set_attention_text(const std::string& text);  // controls follow the text
  void apply_choice();                               // text follows the controls
  void open_source(const media::SourceSpec& source);
  void open_paths(const std::vector<std::string>& paths);  // a video, or images and folders
  void start_sweep();  // over sweep_folder with sweep_attentions, on the sweep's own thread

  GuiOptions options;
  media::Pipeline& pipeline;
  media::AccuracySweep sweep;
  media::PipelineConfig config;  // what the controls ask for
  uint64_t config_version = 0;
  AttentionChoice choice;
  std::string attention_text;    // the text field under the controls
  std::string model_text;        // the model field
  std::string sweep_folder;
  std::string sweep_attentions;  // one configuration per line
  int sweep_images = 50;
  int camera_index = 0;
  std::string stream_url;        // the stream field of the source panel

  media::PipelineStatus status;                    // refreshed every UI frame
  std::shared_ptr<const media::FrameResult> shown; // the result on screen
  PerformanceHistory history;
  AttentionView view;
  FileBrowser browser;
  PanelRect prediction_panel;
  PanelRect view_panel;
  PanelRect sweep_panel;
  int64_t ui_frames = 0;
};

}  // namespace distrvit::gui
