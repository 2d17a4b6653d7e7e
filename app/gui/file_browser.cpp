#include "file_browser.h"

#include <algorithm>
#include <filesystem>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "distrvit/dataset.h"
#include "frame_source.h"

namespace distrvit::gui {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPopupName = "Open##file_browser";

bool shown_file(FileBrowser::Purpose purpose, const std::string& name) {
  switch (purpose) {
    case FileBrowser::Purpose::Source: return is_image_file_name(name) || media::is_video_file_name(name);
    case FileBrowser::Purpose::Model: return fs::path(name).extension() == ".safetensors";
    case FileBrowser::Purpose::SweepFolder: return false;
  }
  return false;
}

}  // namespace

void FileBrowser::open(Purpose purpose, const std::string& start) {
  purpose_ = purpose;
  std::error_code error;
  folder_ = fs::is_directory(start, error) ? start : fs::path(start).parent_path().string();
  if (folder_.empty() || !fs::is_directory(folder_, error)) folder_ = fs::current_path(error).string();
  selected_.clear();
  opening_ = true;
  list_folder();
}

void FileBrowser::list_folder() {
  folders_.clear();
  files_.clear();
  error_.clear();
  std::error_code error;
  for (fs::directory_iterator it(folder_, fs::directory_options::skip_permission_denied, error), end;
       !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (it->is_directory(error)) folders_.push_back(name);
    else if (shown_file(purpose_, name)) files_.push_back(name);
  }
  if (error) error_ = folder_ + ": " + error.message();
  std::sort(folders_.begin(), folders_.end());
  std::sort(files_.begin(), files_.end());
}

bool FileBrowser::draw() {
  if (opening_) {
    ImGui::OpenPopup(kPopupName);
    opening_ = false;
  }
  ImGui::SetNextWindowSize(ImVec2(640, 460), ImGuiCond_Appearing);
  if (!ImGui::BeginPopupModal(kPopupName, nullptr)) return false;
  bool picked = false;
  ImGui::SetNextItemWidth(-1);
  if (ImGui::InputText("##folder", &folder_, ImGuiInputTextFlags_EnterReturnsTrue)) list_folder();
  if (!error_.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", error_.c_str());

  ImGui::BeginChild("entries", ImVec2(0, -ImGui::GetFrameHeightWithSpacing() * 1.4f), true);
  std::string enter;
  if (ImGui::Selectable("[..]", false, ImGuiSelectableFlags_AllowDoubleClick) && ImGui::IsMouseDoubleClicked(0)) {
    enter = fs::path(folder_).parent_path().string();
  }
  for (const std::string& name : folders_) {
    if (ImGui::Selectable(("[" + name + "]").c_str(), false, ImGuiSelectableFlags_AllowDoubleClick) &&
        ImGui::IsMouseDoubleClicked(0)) {
      enter = (fs::path(folder_) / name).string();
    }
  }
  for (const std::string& name : files_) {
    const std::string path = (fs::path(folder_) / name).string();
    if (ImGui::Selectable(name.c_str(), selected_ == path, ImGuiSelectableFlags_AllowDoubleClick)) {
      selected_ = path;
      if (ImGui::IsMouseDoubleClicked(0)) picked = true;
    }
  }
  ImGui::EndChild();
  if (!enter.empty()) {
    folder_ = enter;
    selected_.clear();
    list_folder();
  }

  if (purpose_ != Purpose::SweepFolder) {
    ImGui::BeginDisabled(selected_.empty());
    if (ImGui::Button("Open file")) picked = true;
    ImGui::EndDisabled();
    ImGui::SameLine();
  }
  const char* folder_label = purpose_ == Purpose::Source ? "Open every image in this folder" : "Use this folder";
  if (ImGui::Button(folder_label)) {
    selected_ = folder_;
    picked = true;
  }
  ImGui::SameLine();
  if (ImGui::Button("Cancel")) ImGui::CloseCurrentPopup();
  if (picked) {
    picked_ = selected_;
    ImGui::CloseCurrentPopup();
  }
  ImGui::EndPopup();
  return picked;
}

}  // namespace distrvit::gui
