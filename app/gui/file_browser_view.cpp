// The file dialog drawn as an ImGui modal: every widget calls one FileBrowser action.
#include <imgui.h>
#include <imgui_stdlib.h>

#include "panels.h"

namespace distrvit::gui {
namespace {

constexpr const char* kPopupName = "Open##file_browser";

bool double_clicked(const char* label, bool selected) {
  return ImGui::Selectable(label, selected, ImGuiSelectableFlags_AllowDoubleClick) && ImGui::IsMouseDoubleClicked(0);
}

void draw_entries(FileBrowser& browser) {
  if (double_clicked("[..]", false)) return browser.go_up();
  for (const std::string& name : browser.folders()) {
    if (double_clicked(("[" + name + "]").c_str(), false)) return browser.enter(name);
  }
  for (const std::string& name : browser.files()) {
    if (ImGui::Selectable(name.c_str(), browser.is_selected(name), ImGuiSelectableFlags_AllowDoubleClick)) {
      browser.select(name);
      if (ImGui::IsMouseDoubleClicked(0)) browser.pick_file();
    }
  }
}

void draw_dialog(FileBrowser& browser) {
  std::string typed = browser.folder();
  ImGui::SetNextItemWidth(-1);
  if (ImGui::InputText("##folder", &typed, ImGuiInputTextFlags_EnterReturnsTrue)) browser.go_to(typed);
  error_text(browser.error());

  ImGui::BeginChild("entries", ImVec2(0, -ImGui::GetFrameHeightWithSpacing() * 1.4f), true);
  draw_entries(browser);
  ImGui::EndChild();

  if (browser.picks_files()) {
    ImGui::BeginDisabled(browser.selected().empty());
    if (ImGui::Button("Open file")) browser.pick_file();
    ImGui::EndDisabled();
    ImGui::SameLine();
  }
  const bool source = browser.purpose() == FileBrowser::Purpose::Source;
  if (ImGui::Button(source ? "Open every image in this folder" : "Use this folder")) browser.pick_folder();
  ImGui::SameLine();
  if (ImGui::Button("Cancel")) browser.cancel();
}

}  // namespace

// The popup follows the browser: opened when it opens, closed when a pick or cancel (widget or script) closes it.
void draw_file_browser(FileBrowser& browser) {
  const bool popup_open = ImGui::IsPopupOpen(kPopupName);
  if (!browser.is_open() && !popup_open) return;
  if (!popup_open) ImGui::OpenPopup(kPopupName);
  ImGui::SetNextWindowSize(ImVec2(640, 460), ImGuiCond_Appearing);
  if (!ImGui::BeginPopupModal(kPopupName, nullptr)) return;
  if (browser.is_open()) draw_dialog(browser);
  if (!browser.is_open()) ImGui::CloseCurrentPopup();
  ImGui::EndPopup();
}

}  // namespace distrvit::gui
