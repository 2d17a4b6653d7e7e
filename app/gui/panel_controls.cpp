// Controls panel: device, precision, attention backend and its parameters, per-layer switches. Every change
// goes to the pipeline at once and applies from the next frame.
#include <algorithm>
#include <thread>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "distrvit/engine.h"
#include "panels.h"

namespace distrvit::gui {
namespace {

// Combo over `items`; returns true when the user picked another one.
bool combo(const char* label, std::string& value, const std::vector<std::string>& items) {
  bool changed = false;
  if (ImGui::BeginCombo(label, value.empty() ? "default" : value.c_str())) {
    for (const std::string& item : items) {
      const std::string shown = item.empty() ? "default" : item;
      if (ImGui::Selectable(shown.c_str(), item == value)) {
        changed = item != value;
        value = item;
      }
    }
    ImGui::EndCombo();
  }
  return changed;
}

bool draw_engine_controls(GuiState& state) {
  static const bool has_cuda = cuda_available();
  std::vector<std::string> devices = {"auto", "cpu"};
  if (has_cuda) devices.push_back("cuda");
  bool changed = combo("device", state.config.device, devices);
  changed |= combo("precision", state.config.precision, {"", "fp32", "fp16", "bf16"});
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  changed |= ImGui::SliderInt("CPU threads", &state.config.threads, 0, cores, state.config.threads ? "%d" : "all");
  return changed;
}

void draw_attention_controls(GuiState& state, int head_dim) {
  AttentionChoice& choice = state.choice;
  bool changed = false;
  int backend = static_cast<int>(choice.backend);
  if (ImGui::Combo("attention", &backend, kBackendNames, IM_ARRAYSIZE(kBackendNames))) {
    if (static_cast<Backend>(backend) == Backend::Text) choice.typed = state.attention_text;
    choice.backend = static_cast<Backend>(backend);
    changed = true;
  }
  switch (choice.backend) {
    case Backend::Distr: {
      changed |= ImGui::SliderInt("block size l", &choice.block, 1, 256);
      static const int kGroups[] = {1, 2, 4, 8, 16};
      ImGui::AlignTextToFramePadding();
      ImGui::Text("group size G");
      for (int group : kGroups) {
        ImGui::SameLine();
        if (ImGui::RadioButton(std::to_string(group).c_str(), choice.group == group)) {
          changed |= choice.group != group;
          choice.group = group;
        }
      }
      int variant = choice.sample ? 1 : 0;
      ImGui::AlignTextToFramePadding();
      ImGui::Text("fused Q column");
      ImGui::SameLine();
      changed |= ImGui::RadioButton("mean", &variant, 0);
      ImGui::SameLine();
      changed |= ImGui::RadioButton("sample", &variant, 1);
      choice.sample = variant == 1;
      changed |= ImGui::SliderInt("hash bits P", &choice.hash_bits, 1, 32);
      changed |= ImGui::Checkbox("int8 hash (tensor cores)", &choice.int8_hash);
      int seed = static_cast<int>(choice.seed);
      if (ImGui::InputInt("seed", &seed) && seed >= 0) {
        choice.seed = static_cast<uint64_t>(seed);
        changed = true;
      }
      break;
    }
    case Backend::LowRank: changed |= ImGui::SliderInt("rank r", &choice.rank, 1, std::max(1, head_dim)); break;
    case Backend::Plan:
      changed |= ImGui::InputText("plan file", &choice.plan_file, ImGuiInputTextFlags_EnterReturnsTrue);
      if (ImGui::Button("the model's calibrated plan")) {  // plan:calibrated (distrvit/model_plans.h)
        choice.plan_file = "calibrated";
        changed = true;
      }
      break;
    default: break;
  }
  if (changed) state.apply_choice();

  ImGui::SetNextItemWidth(-1);
  if (ImGui::InputText("##attention_text", &state.attention_text, ImGuiInputTextFlags_EnterReturnsTrue)) {
    state.set_attention_text(state.attention_text);
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("--attention text; edit and press Enter");
}

void draw_layer_switches(GuiState& state, int depth) {
  std::vector<bool>& layers = state.config.approximate_layers;
  if (static_cast<int>(layers.size()) != depth) layers.assign(depth, true);
  ImGui::Text("approximate attention in layers");
  bool changed = false;
  for (int layer = 0; layer < depth; ++layer) {
    if (layer % 6 != 0) ImGui::SameLine();
    bool on = layers[layer];
    if (ImGui::Checkbox(("##layer" + std::to_string(layer)).c_str(), &on)) {
      layers[layer] = on;
      changed = true;
    }
    ImGui::SameLine(0, 2);
    ImGui::Text("%-2d", layer);
  }
  if (ImGui::SmallButton("all")) layers.assign(depth, true), changed = true;
  ImGui::SameLine();
  if (ImGui::SmallButton("none")) layers.assign(depth, false), changed = true;
  ImGui::SameLine();
  if (ImGui::SmallButton("last half")) {
    for (int layer = 0; layer < depth; ++layer) layers[layer] = layer >= depth / 2;
    changed = true;
  }
  if (changed) state.apply_config();
}

}  // namespace

void draw_controls_panel(GuiState& state, const PanelRect& rect) {
  if (begin_panel("Attention and device", rect)) {
    ImGui::PushItemWidth(170);
    if (draw_engine_controls(state)) state.apply_config();
    ImGui::Separator();
    const auto& model = state.status.model;
    draw_attention_controls(state, model ? model->config.head_dim() : 64);
    if (ImGui::Checkbox("compare with exact attention", &state.config.compare_exact)) state.apply_config();
    ImGui::PopItemWidth();
    if (model) {
      ImGui::Separator();
      draw_layer_switches(state, model->config.depth);
    }
    ImGui::Separator();
    ImGui::TextColored(kMutedText, "running: %s", state.status.attention.c_str());
    error_text(state.status.engine_error);
  }
  ImGui::End();
}

}  // namespace distrvit::gui
