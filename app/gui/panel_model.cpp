// Model panel: load a checkpoint or hub id; architecture, parameter count, preprocessing.
#include <fmt/format.h>
#include <imgui.h>
#include <imgui_stdlib.h>

#include "distrvit/hub.h"
#include "panels.h"

namespace distrvit::gui {
namespace {

const char* interpolation_name(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::Bilinear: return "bilinear";
    case Interpolation::Bicubic: return "bicubic";
    case Interpolation::Nearest: return "nearest";
  }
  return "?";
}

// "class token", "patch mean, fc_norm", "patch mean, norm first", then ", 4 registers"
std::string pooling_text(const VitConfig& c) {
  std::string text = c.pooling == Pooling::ClassToken ? "class token"
                     : c.norm_after_pooling           ? "patch mean, fc_norm"
                                                      : "patch mean, norm first";
  if (c.register_tokens) text += fmt::format(", {} registers", c.register_tokens);
  return text;
}

void row(const char* name, const std::string& value) {
  ImGui::TableNextRow();
  ImGui::TableNextColumn();
  ImGui::TextColored(kMutedText, "%s", name);
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(value.c_str());
}

}  // namespace

void draw_model_panel(GuiState& state, const PanelRect& rect) {
  if (begin_panel("Model", rect)) {
    const media::PipelineStatus& status = state.status;
    ImGui::SetNextItemWidth(-110);
    const bool entered = ImGui::InputTextWithHint("##model", kDefaultHubId, &state.model_text,
                                                  ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if (ImGui::Button("Load") || entered) {
      state.config.model = state.model_text;
      state.apply_config();
    }
    ImGui::SameLine();
    if (ImGui::Button("...")) state.browser.open(FileBrowser::Purpose::Model, state.model_text.empty() ? "." : state.model_text);
    ImGui::TextColored(kMutedText, "%s", status.engine_state.c_str());
    error_text(status.engine_error);

    if (const auto& model = status.model) {
      const VitConfig& c = model->config;
      const PreprocessConfig& p = c.preprocess;
      if (ImGui::BeginTable("architecture", 2, ImGuiTableFlags_SizingFixedFit)) {
        row("architecture", c.architecture.empty() ? "ViT" : c.architecture);
        row("parameters", fmt::format("{:.2f} M", model->parameter_count() / 1e6));
        row("layers x heads", fmt::format("{} x {} (head dim {})", c.depth, c.num_heads, c.head_dim()));
        row("embed / mlp", fmt::format("{} / {}", c.embed_dim, c.mlp_hidden));
        row("input", fmt::format("{}x{}, patch {}, {} tokens", c.image_width, c.image_height, c.patch_size, c.tokens()));
        row("classes", fmt::format("{}{}, {}", c.num_classes, c.distilled ? " (distilled)" : "",
                                   !c.class_names.empty() ? "named by the checkpoint"
                                   : c.num_classes == 1000 ? "ImageNet-1k names"
                                                           : "unnamed"));
        row("pooling", pooling_text(c));
        row("resize", p.resize_to_input ? std::string("straight to input size")
                                        : fmt::format("{}, crop_pct {:.3f}, {}", interpolation_name(p.interpolation),
                                                      p.crop_pct, p.crop_mode));
        row("mean", fmt::format("{:.3f} {:.3f} {:.3f}", p.mean[0], p.mean[1], p.mean[2]));
        row("std", fmt::format("{:.3f} {:.3f} {:.3f}", p.std[0], p.std[1], p.std[2]));
        row("device", status.device);
        ImGui::EndTable();
      }
      ImGui::TextColored(kMutedText, "%s", model->source.c_str());
    }
  }
  ImGui::End();
}

}  // namespace distrvit::gui
