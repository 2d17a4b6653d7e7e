// The dashboard: fixed panels laid out from the window size, each drawn by one function.
#pragma once
#include "gui_state.h"

namespace distrvit::gui {

struct DashboardLayout {
  PanelRect source, model, controls;  // left column
  PanelRect view, predictions;        // centre
  PanelRect performance, sweep;       // right column
};

DashboardLayout dashboard_layout(ImVec2 display_size);

void draw_source_panel(GuiState& state, const PanelRect& rect);
void draw_model_panel(GuiState& state, const PanelRect& rect);
void draw_controls_panel(GuiState& state, const PanelRect& rect);
void draw_view_panel(GuiState& state, const PanelRect& rect);
void refresh_attention_view(GuiState& state);  // heat-map textures for the shown result
void draw_predictions_panel(GuiState& state, const PanelRect& rect);
void draw_performance_panel(GuiState& state, const PanelRect& rect);
void draw_sweep_panel(GuiState& state, const PanelRect& rect);
void draw_file_browser(FileBrowser& browser);  // the Open dialog, while it is open

// Shared by the panels.
bool begin_panel(const char* title, const PanelRect& rect);  // always pair with ImGui::End()
void error_text(const std::string& message);                 // red, wrapped; nothing when empty
inline const ImVec4 kMutedText(0.6f, 0.6f, 0.65f, 1.0f);

}  // namespace distrvit::gui
