// Accuracy-vs-latency panel: a background sweep over a labelled folder, one labelled point per configuration.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <imgui.h>
#include <imgui_stdlib.h>

#include "panels.h"

namespace distrvit::gui {
namespace {

// A round step (1, 2 or 5 times a power of ten) giving about `ticks` intervals over `span`.
float nice_step(float span, int ticks) {
  const float raw = span / ticks;
  const float power = std::pow(10.0f, std::floor(std::log10(raw)));
  for (float factor : {1.0f, 2.0f, 5.0f}) {
    if (factor * power >= raw) return factor * power;
  }
  return 10 * power;
}

// Top-1 (y) against mean forward latency (x), each point labelled with its configuration.
void draw_chart(const std::vector<media::SweepPoint>& points, ImVec2 size) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::Dummy(size);
  const float left = 44, bottom = 32, top = 8, right = 12;
  const ImVec2 low(origin.x + left, origin.y + size.y - bottom);
  const ImVec2 high(origin.x + size.x - right, origin.y + top);
  const ImU32 axis = IM_COL32(150, 150, 160, 255), grid = IM_COL32(70, 70, 80, 255), text = IM_COL32(220, 220, 225, 255);
  draw->AddRectFilled(ImVec2(low.x, high.y), ImVec2(high.x, low.y), IM_COL32(25, 25, 30, 255));
  if (points.empty()) {
    draw->AddText(ImVec2(low.x + 12, high.y + 12), IM_COL32(150, 150, 160, 255),
                  "top-1 against forward latency: run a sweep to fill");
    return;
  }

  float max_ms = 0, min_top1 = 100;
  for (const auto& point : points) {
    max_ms = std::max(max_ms, static_cast<float>(point.forward_ms));
    min_top1 = std::min(min_top1, static_cast<float>(point.top1));
  }
  const float x_step = nice_step(std::max(max_ms, 0.1f) * 1.15f, 4);
  const float x_max = x_step * std::ceil(std::max(max_ms, 0.1f) * 1.15f / x_step);
  const float y_step = nice_step(std::max(100 - min_top1 + 2, 2.0f), 5);
  const float y_min = std::max(0.0f, y_step * std::floor((min_top1 - 1) / y_step)), y_max = 100;
  const auto to_screen = [&](float ms, float top1) {
    return ImVec2(low.x + (high.x - low.x) * ms / x_max, low.y - (low.y - high.y) * (top1 - y_min) / (y_max - y_min));
  };
  for (float top1 = y_min; top1 <= y_max + 1e-3f; top1 += y_step) {
    const ImVec2 at = to_screen(0, top1);
    draw->AddLine(at, ImVec2(high.x, at.y), grid);
    draw->AddText(ImVec2(origin.x + 2, at.y - 7), text, fmt::format("{:g}%", top1).c_str());
  }
  for (float ms = 0; ms <= x_max + 1e-3f; ms += x_step) {
    const ImVec2 at = to_screen(ms, y_min);
    draw->AddLine(at, ImVec2(at.x, high.y), grid);
    const std::string tick = fmt::format("{:g}", ms);
    const float tick_width = ImGui::CalcTextSize(tick.c_str()).x;
    draw->AddText(ImVec2(std::min(at.x - tick_width / 2, high.x + right - tick_width), low.y + 3), text, tick.c_str());
  }
  draw->AddLine(low, ImVec2(high.x, low.y), axis);
  draw->AddLine(low, ImVec2(low.x, high.y), axis);
  draw->AddText(ImVec2(high.x - 200, low.y + 16), text, "forward ms per image (batch 1)");
  for (const auto& point : points) {
    const ImVec2 at = to_screen(static_cast<float>(point.forward_ms), static_cast<float>(point.top1));
    draw->AddCircleFilled(at, 4.5f, IM_COL32(255, 170, 60, 255));
    const std::string label = fmt::format("{} {:.1f}%", point.attention, point.top1);
    const float label_width = ImGui::CalcTextSize(label.c_str()).x;
    const float label_x = at.x + 6 + label_width > high.x ? at.x - 6 - label_width : at.x + 6;  // stay inside
    draw->AddText(ImVec2(label_x, at.y - 7), text, label.c_str());
  }
}

}  // namespace

void draw_sweep_panel(GuiState& state, const PanelRect& rect) {
  state.sweep_panel = rect;
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
      if (ImGui::Button("Run sweep")) state.start_sweep();
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
