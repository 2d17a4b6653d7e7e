// Performance panel: per-frame latency (end to end, forward, attention) and FPS, with rolling plots.
#include <fmt/format.h>
#include <imgui.h>

#include "panels.h"

namespace distrvit::gui {
namespace {

void plot(const char* label, const RollingHistory& history, const char* unit, float height) {
  const std::string overlay = fmt::format("{}: {:.1f} {} (mean {:.1f})", label, history.last(), unit, history.mean());
  const std::vector<float>& values = history.values();
  ImGui::PlotLines(("##" + std::string(label)).c_str(), values.data(), static_cast<int>(values.size()), 0,
                   overlay.c_str(), 0.0f, std::max(1.0f, history.max() * 1.15f),
                   ImVec2(ImGui::GetContentRegionAvail().x, height));
}

}  // namespace

void draw_performance_panel(GuiState& state, const PanelRect& rect) {
  if (begin_panel("Performance", rect)) {
    const auto& result = state.shown;
    if (result) {
      const media::FrameTiming& t = result->timing;
      ImGui::Text("%.1f frames/s   end to end %.1f ms", result->fps, t.end_to_end_ms);
      ImGui::Text("preprocess %.1f  forward %.1f  attention %.1f ms", t.preprocess_ms, t.forward_ms, t.attention_ms);
      if (t.exact_forward_ms > 0) ImGui::Text("exact forward (comparison) %.1f ms", t.exact_forward_ms);
    } else {
      ImGui::TextColored(kMutedText, "no frame classified yet");
    }
    ImGui::TextColored(kMutedText, "UI %.0f frames/s, %lld drawn; %lld frames dropped (newest wins)",
                       ImGui::GetIO().Framerate, static_cast<long long>(state.ui_frames),
                       static_cast<long long>(state.status.frames_dropped));
    const float height = std::max(40.0f, (ImGui::GetContentRegionAvail().y - 4 * ImGui::GetStyle().ItemSpacing.y) / 4);
    plot("end to end", state.history.end_to_end, "ms", height);
    plot("forward", state.history.forward, "ms", height);
    plot("attention", state.history.attention, "ms", height);
    plot("FPS", state.history.fps, "/s", height);
  }
  ImGui::End();
}

}  // namespace distrvit::gui
