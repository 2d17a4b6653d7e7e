// Source panel: open files, folders, videos, stream URLs and cameras; play, pause, step.
#include <imgui.h>
#include <imgui_stdlib.h>

#include "panels.h"

namespace distrvit::gui {

void draw_source_panel(GuiState& state, const PanelRect& rect) {
  if (begin_panel("Source", rect)) {
    const media::PipelineStatus& status = state.status;
    if (ImGui::Button("Open file or folder...")) {
      const std::vector<std::string>& paths = state.options.source.paths;
      state.browser.open(FileBrowser::Purpose::Source, paths.empty() ? "." : paths.front());
    }
    ImGui::SameLine();
    ImGui::SetNextItemWidth(80);
    ImGui::InputInt("##camera", &state.camera_index);
    if (state.camera_index < 0) state.camera_index = 0;
    ImGui::SameLine();
    if (ImGui::Button("Open camera")) state.open_source(media::SourceSpec::camera(state.camera_index));
    ImGui::SetNextItemWidth(-110);
    const bool entered = ImGui::InputTextWithHint("##stream", "stream URL: rtsp://, udp://, http://...",
                                                  &state.stream_url, ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if ((ImGui::Button("Open stream") || entered) && !state.stream_url.empty())
      state.open_source(media::SourceSpec::video(state.stream_url));
    ImGui::TextColored(kMutedText, "or drop images, folders or a video onto the window");
    ImGui::Separator();

    ImGui::TextWrapped("%s", status.source.c_str());
    if (!status.source_error.empty()) {
      error_text(status.source_error);
    } else if (status.source_ended && status.source_open) {
      ImGui::TextColored(kMutedText, "end reached");
    }

    const bool playing = status.playing;
    if (ImGui::Button(playing ? "Pause" : "Play", ImVec2(70, 0))) state.pipeline.set_playing(!playing);
    ImGui::SameLine();
    ImGui::BeginDisabled(playing);
    if (ImGui::Button("Step", ImVec2(70, 0))) state.pipeline.step();
    ImGui::EndDisabled();
    ImGui::SameLine();
    bool loop = state.options.playback.loop;
    if (ImGui::Checkbox("loop", &loop)) {
      state.options.playback.loop = loop;
      state.pipeline.set_playback(state.options.playback);
    }
    ImGui::SameLine();
    bool every_frame = state.options.playback.pacing == media::Pacing::EveryFrame;
    if (ImGui::Checkbox("every frame", &every_frame)) {
      state.options.playback.pacing = every_frame ? media::Pacing::EveryFrame : media::Pacing::Realtime;
      state.pipeline.set_playback(state.options.playback);
    }

    ImGui::Text("captured %lld  classified %lld  dropped %lld", static_cast<long long>(status.frames_captured),
                static_cast<long long>(status.frames_processed), static_cast<long long>(status.frames_dropped));
    if (status.source_open) {
      if (status.source_fps > 0) ImGui::Text("plays at %.1f frames/s", status.source_fps);
      else ImGui::Text("live: frames as the source gives them");
      if (status.source_frames > 0) ImGui::SameLine(), ImGui::Text("(%lld frames)", static_cast<long long>(status.source_frames));
    }
  }
  ImGui::End();
}

}  // namespace distrvit::gui
