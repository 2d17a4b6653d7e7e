// View panel: the frame the model saw under class-token attention heat-maps, configured and exact side by
// side, and their difference.
#include <algorithm>
#include <cmath>

#include <imgui.h>

#include "heatmap.h"
#include "panels.h"

namespace distrvit::gui {
namespace {

void image_with_caption(const GlTexture& texture, float side, const std::string& caption) {
  ImGui::BeginGroup();
  if (!texture.empty()) ImGui::Image(texture.imgui_id(), ImVec2(side, side));
  else ImGui::Dummy(ImVec2(side, side));
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + side);
  ImGui::TextUnformatted(caption.c_str());
  ImGui::PopTextWrapPos();
  ImGui::EndGroup();
}

void centred_message(const std::string& text, bool is_error) {
  const ImVec2 available = ImGui::GetContentRegionAvail();
  const float wrap = available.x * 0.8f;
  const ImVec2 size = ImGui::CalcTextSize(text.c_str(), nullptr, false, wrap);
  ImGui::SetCursorPos(ImVec2(ImGui::GetCursorPosX() + (available.x - size.x) / 2,
                             ImGui::GetCursorPosY() + (available.y - size.y) / 2));
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + wrap);
  if (is_error) ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.42f, 0.42f, 1.0f));
  ImGui::TextUnformatted(text.c_str());
  if (is_error) ImGui::PopStyleColor();
  ImGui::PopTextWrapPos();
}

}  // namespace

void refresh_attention_view(GuiState& state) {
  AttentionView& view = state.view;
  const auto& result = state.shown;
  if (!result || (result->sequence == view.uploaded_sequence && !view.stale)) return;
  view.uploaded_sequence = result->sequence;
  view.stale = false;
  const AttentionGrid approximate =
      patch_attention(result->cls_attention, view.head, result->prefix_tokens, result->grid_h, result->grid_w);
  const AttentionGrid exact =
      patch_attention(result->exact_cls_attention, view.head, result->prefix_tokens, result->grid_h, result->grid_w);
  view.peak = std::max(approximate.max(), exact.max());
  view.max_difference = 0;
  for (size_t i = 0; i < approximate.values.size() && i < exact.values.size(); ++i) {
    view.max_difference = std::max(view.max_difference, std::fabs(approximate.values[i] - exact.values[i]));
  }
  view.total_variation = total_variation(approximate, exact);
  view.approximate.upload(heatmap_overlay(result->input, approximate, view.peak, view.opacity));
  view.exact.upload(heatmap_overlay(result->input, exact, view.peak, view.opacity));
  view.difference.upload(
      difference_overlay(result->input, approximate, exact, std::max(view.max_difference, 1e-9f), view.opacity));
}

void draw_view_panel(GuiState& state, const PanelRect& rect) {
  state.view_panel = rect;
  if (begin_panel("View", rect)) {
    AttentionView& view = state.view;
    const auto& result = state.shown;
    const int depth = state.status.model ? state.status.model->config.depth : 12;
    const int heads = state.status.model ? state.status.model->config.num_heads : 1;

    ImGui::PushItemWidth(140);
    int layer = state.config.attention_layer < 0 ? depth - 1 : state.config.attention_layer;
    if (ImGui::SliderInt("layer", &layer, 0, depth - 1)) {
      state.config.attention_layer = layer;
      state.config.capture_attention = true;
      state.apply_config();
    }
    ImGui::SameLine();
    const std::string head_label = view.head < 0 ? "mean of heads" : "head " + std::to_string(view.head);
    if (ImGui::BeginCombo("##head", head_label.c_str())) {
      for (int head = -1; head < heads; ++head) {
        if (ImGui::Selectable(head < 0 ? "mean of heads" : ("head " + std::to_string(head)).c_str(), head == view.head)) {
          view.head = head;
          view.stale = true;
        }
      }
      ImGui::EndCombo();
    }
    ImGui::SameLine();
    if (ImGui::SliderFloat("overlay", &view.opacity, 0.0f, 1.0f, "%.2f")) view.stale = true;
    ImGui::PopItemWidth();
    ImGui::Separator();

    const media::PipelineStatus& status = state.status;
    if (!result) {
      if (!status.source_error.empty()) centred_message(status.source_error, true);
      else if (!status.engine_error.empty() && !status.model) centred_message(status.engine_error, true);
      else if (status.source_open || status.engine_state != "ready") centred_message(status.engine_state, false);
      else centred_message("Open an image, a folder, a video or a camera (Source panel), or drop files here.", false);
    } else {
      const float spacing = ImGui::GetStyle().ItemSpacing.x;
      const ImVec2 available = ImGui::GetContentRegionAvail();
      const float side = std::max(64.0f, std::min((available.x - 2 * spacing) / 3, available.y - 90));
      const bool comparing = !result->exact_cls_attention.data.empty();
      image_with_caption(view.approximate, side, "configured: " + result->attention);
      ImGui::SameLine();
      image_with_caption(view.exact, side, comparing ? "exact" : "exact: not compared");
      ImGui::SameLine();
      image_with_caption(view.difference, side, comparing ? "difference (red: more, blue: less)" : "");
      if (result->attention_layer >= 0) {
        ImGui::Text("layer %d, %s: total variation %.3f, largest patch difference %.4f (peak %.4f)",
                    result->attention_layer, head_label.c_str(), view.total_variation, view.max_difference, view.peak);
      } else if (status.model && !status.model->config.class_token) {
        ImGui::TextColored(kMutedText, "no attention map: this model has no class token (it averages its patches)");
      }
      ImGui::TextColored(kMutedText, "frame %lld%s%s", static_cast<long long>(result->frame_index),
                         result->frame_name.empty() ? "" : ("  " + result->frame_name).c_str(),
                         result->reprocessed ? "  (classified again with the new settings)" : "");
      if (!status.source_error.empty()) error_text(status.source_error);
    }
  }
  ImGui::End();
}

}  // namespace distrvit::gui
