// Accuracy-vs-latency panel: a background sweep over a labelled folder, one labelled point per configuration.
#include <algorithm>
#include <sstream>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "panels.h"

namespace distrvit::gui {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    line.erase(0, line.find_first_not_of(" \t"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Top-1 (y) against mean forward latency (x), each point labelled with its configuration.
void draw_chart(const std::vector<media::SweepPoint>& points, ImVec2 size) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::Dummy(size);
  const float left = 44, bottom = 30, top = 8, right = 12;
  const ImVec2 low(origin.x + left, origin.y + size.y - bottom);
  const ImVec2 high(origin.x + size.x - right, origin.y + top);
  const ImU32 axis = IM_COL32(150, 150, 160, 255), grid = IM_COL32(70, 70, 80, 255), text = IM_COL32(220, 220, 225, 255);
  draw->AddRectFilled(ImVec2(low.x, high.y), ImVec2(high.x, low.y), IM_COL32(25, 25, 30, 255));

  float max_ms = 1, min_top1 = 100;
  for (const auto& point : points) {
    max_ms = std::max(max_ms, static_cast<float>(point.forward_ms));
    min_top1 = std::min(min_top1, static_cast<float>(point.top1));
  }
  max_ms *= 1.15f;
  const float y_min = std::max(0.0f, std::floor(min_top1 / 10 - 0.5f) * 10), y_max = 100;
  const auto to_screen = [&](float ms, float top1) {
    return ImVec2(low.x + (high.x - low.x) * ms / max_ms, low.y - (low.y - high.y) * (top1 - y_min) / (y_max - y_min));
  };
  for (int i = 0; i <= 4; ++i) {
    const float top1 = y_min + (y_max - y_min) * i / 4, ms = max_ms * i / 4;
    const ImVec2 horizontal = to_screen(0, top1), vertical = to_screen(ms, y_min);
    draw->AddLine(horizontal, ImVec2(high.x, horizontal.y), grid);
    draw->AddLine(vertical, ImVec2(vertical.x, high.y), grid);
    draw->AddText(ImVec2(origin.x + 4, horizontal.y - 7), text, fmt::format("{:.0f}%", top1).c_str());
    draw->AddText(ImVec2(vertical.x - 10, low.y + 4), text, fmt::format("{:.0f}", ms).c_str());
  }
  draw->AddLine(low, ImVec2(high.x, low.y), axis);
  draw->AddLine(low, ImVec2(low.x, high.y), axis);
  draw->AddText(ImVec2(high.x - 130, low.y + 15), text, "forward ms / image");
  for (const auto& point : points) {
    const ImVec2 at = to_screen(static_cast<float>(point.forward_ms), static_cast<float>(point.top1));
    draw->AddCircleFilled(at, 4.5f, IM_COL32(255, 170, 60, 255));
    draw->AddText(ImVec2(at.x + 6, at.y - 7), text, fmt::format("{} {:.1f}%", point.attention, point.top1).c_str());
  }
}

}  // namespace

void draw_sweep_panel(GuiState& state, const PanelRect& rect) {
  if (begin_panel("Accuracy vs latency", rect)) {
    const media::SweepProgress progress = state.sweep.progress();
    ImGui::SetNextItemWidth(-60);
    ImGui::InputTextWithHint("##sweep_folder", "labelled folder (<synset>/<file>)", &state.sweep_folder);
    ImGui::SameLine();
    if (ImGui::Button("...##sweep")) state.browser.open(FileBrowser::Purpose::SweepFolder, state.sweep_folder.empty() ? "." : state.sweep_folder);
    ImGui::SetNextItemWidth(120);
    ImGui::SliderInt("images", &state.sweep_images, 10, 1000);
    ImGui::SameLine();
    if (!progress.running) {
      if (ImGui::Button("Run sweep")) {
        media::SweepSettings settings;
        settings.folder = state.sweep_folder;
        settings.attentions = lines_of(state.sweep_attentions);
        settings.max_images = static_cast<size_t>(state.sweep_images);
        settings.engine = state.config;
        if (state.status.model && state.config.model == state.pipeline.config().model) settings.model = state.status.model;
        state.sweep.start(std::move(settings));
      }
    } else if (ImGui::Button("Cancel")) {
      state.sweep.cancel();
    }
    ImGui::InputTextMultiline("##sweep_attentions", &state.sweep_attentions, ImVec2(-1, ImGui::GetTextLineHeight() * 4.5f));
    if (progress.running || progress.fraction > 0) {
      ImGui::ProgressBar(static_cast<float>(progress.fraction), ImVec2(-1, 0), progress.stage.c_str());
    }
    error_text(progress.error);
    const float chart_height = std::max(120.0f, ImGui::GetContentRegionAvail().y - 4);
    draw_chart(progress.points, ImVec2(ImGui::GetContentRegionAvail().x, chart_height));
  }
  ImGui::End();
}

}  // namespace distrvit::gui
