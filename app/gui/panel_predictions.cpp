// Predictions panel: top-5 classes and probabilities, configured attention next to exact.
#include <fmt/format.h>
#include <imgui.h>

#include "panels.h"

namespace distrvit::gui {
namespace {

void draw_top5(const char* title, const std::vector<media::RankedClass>& top5, float width) {
  ImGui::BeginGroup();
  ImGui::TextColored(kMutedText, "%s", title);
  if (top5.empty()) {
    ImGui::TextColored(kMutedText, "-");
    ImGui::EndGroup();
    return;
  }
  ImGui::SetWindowFontScale(1.6f);
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
  ImGui::TextWrapped("%s", top5.front().label.c_str());
  ImGui::PopTextWrapPos();
  ImGui::SetWindowFontScale(1.0f);
  for (const media::RankedClass& entry : top5) {
    const std::string bar_text = fmt::format("{:5.1f} %", 100.0f * entry.probability);
    ImGui::ProgressBar(entry.probability, ImVec2(width * 0.35f, 0), bar_text.c_str());
    ImGui::SameLine();
    ImGui::TextUnformatted(entry.label.c_str());
  }
  ImGui::EndGroup();
}

}  // namespace

void draw_predictions_panel(GuiState& state, const PanelRect& rect) {
  state.prediction_panel = rect;
  if (begin_panel("Predictions", rect)) {
    const auto& result = state.shown;
    if (!result) {
      ImGui::TextColored(kMutedText, "no frame classified yet");
    } else {
      if (ImGui::BeginTable("top5", 2)) {
        const float column = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) / 2;
        ImGui::TableNextColumn();
        draw_top5(("configured: " + result->attention).c_str(), result->top5, column);
        ImGui::TableNextColumn();
        draw_top5("exact attention", result->exact_top5, column);
        ImGui::EndTable();
      }
      ImGui::Separator();
      if (!result->exact_top5.empty() && !result->top5.empty()) {
        const bool agree = result->exact_top5.front().index == result->top5.front().index;
        ImGui::TextColored(agree ? ImVec4(0.5f, 0.9f, 0.5f, 1) : ImVec4(1, 0.6f, 0.3f, 1), "top-1 %s exact attention",
                           agree ? "agrees with" : "differs from");
        ImGui::SameLine();
      }
      ImGui::TextColored(kMutedText, "%s, %s, frame %lld", result->device.c_str(), result->precision.c_str(),
                         static_cast<long long>(result->frame_index));
    }
  }
  ImGui::End();
}

}  // namespace distrvit::gui
