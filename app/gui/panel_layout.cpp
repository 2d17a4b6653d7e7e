#include <algorithm>
#include <cmath>

#include "panels.h"

namespace distrvit::gui {

DashboardLayout dashboard_layout(ImVec2 display) {
  const float left = 360;
  const float right = std::max(420.0f, display.x * 0.28f);
  const float centre = std::max(200.0f, display.x - left - right);
  const float h = display.y;
  DashboardLayout layout;
  const float source_h = std::round(h * 0.25f), model_h = std::round(h * 0.27f);
  layout.source = {{0, 0}, {left, source_h}};
  layout.model = {{0, source_h}, {left, model_h}};
  layout.controls = {{0, source_h + model_h}, {left, h - source_h - model_h}};
  const float view_h = std::round(h * 0.6f);
  layout.view = {{left, 0}, {centre, view_h}};
  layout.predictions = {{left, view_h}, {centre, h - view_h}};
  const float performance_h = std::round(h * 0.5f);
  layout.performance = {{left + centre, 0}, {right, performance_h}};
  layout.sweep = {{left + centre, performance_h}, {right, h - performance_h}};
  return layout;
}

bool begin_panel(const char* title, const PanelRect& rect) {
  ImGui::SetNextWindowPos(rect.position, ImGuiCond_Always);
  ImGui::SetNextWindowSize(rect.size, ImGuiCond_Always);
  return ImGui::Begin(title, nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse);
}

void error_text(const std::string& message) {
  if (message.empty()) return;
  ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.42f, 0.42f, 1.0f));
  ImGui::TextWrapped("%s", message.c_str());
  ImGui::PopStyleColor();
}

}  // namespace distrvit::gui
