#include "run_report.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "distrvit/error.h"

namespace distrvit::gui {
namespace {

using nlohmann::json;

json ranked_json(const std::vector<media::RankedClass>& ranked) {
  json list = json::array();
  for (const auto& entry : ranked) {
    list.push_back({{"index", entry.index}, {"synset", entry.synset}, {"label", entry.label},
                    {"probability", entry.probability}});
  }
  return list;
}

// A panel's rectangle in screenshot pixels.
json rect_json(const PanelRect& rect, const ImVec2& scale) {
  return {{"x", static_cast<int>(rect.position.x * scale.x)}, {"y", static_cast<int>(rect.position.y * scale.y)},
          {"width", static_cast<int>(rect.size.x * scale.x)}, {"height", static_cast<int>(rect.size.y * scale.y)}};
}

json segment_json(const ScriptSegment& segment) {
  const double frames = std::max(1, segment.frames);
  json top1 = json::array();
  for (const auto& entry : segment.top1) top1.push_back({{"label", entry.label}, {"probability", entry.probability}});
  return {{"step", segment.step},
          {"attention", segment.attention},
          {"ran", segment.ran},
          {"device", segment.device},
          {"frames_wanted", segment.frames_wanted},
          {"frames", segment.frames},
          {"ui_frames", segment.ui_frames},
          {"longest_ui_frame_ms", segment.longest_ui_frame_ms},
          {"mean_forward_ms", segment.forward_ms / frames},
          {"mean_attention_ms", segment.attention_ms / frames},
          {"mean_end_to_end_ms", segment.end_to_end_ms / frames},
          {"top1", top1}};
}

}  // namespace

void write_run_report(const std::string& path, const GuiState& state, const ScriptRunner& script,
                      const RunOutcome& outcome) {
  const media::PipelineStatus& status = state.status;
  json report = {{"result", outcome.result},
                 {"message", outcome.message},
                 {"pid", static_cast<int>(getpid())},
                 {"seconds", outcome.seconds},
                 {"renderer", outcome.renderer},
                 {"screenshot", outcome.screenshot},
                 {"source", status.source},
                 {"source_error", status.source_error},
                 {"frames_captured", status.frames_captured},
                 {"frames_processed", status.frames_processed},
                 {"frames_dropped", status.frames_dropped},
                 {"ui_frames", state.ui_frames},
                 {"engine_builds", status.engine_builds},
                 {"errors", outcome.errors}};
  const ImVec2 scale = ImGui::GetIO().DisplayFramebufferScale;
  report["prediction_panel"] = rect_json(state.prediction_panel, scale);
  report["view_panel"] = rect_json(state.view_panel, scale);
  report["sweep_panel"] = rect_json(state.sweep_panel, scale);
  if (const auto& shown = state.shown) {
    report["shown"] = {{"sequence", shown->sequence},
                       {"frame_index", shown->frame_index},
                       {"frame_name", shown->frame_name},
                       {"attention", shown->attention},
                       {"device", shown->device},
                       {"precision", shown->precision},
                       {"attention_layer", shown->attention_layer},
                       {"top5", ranked_json(shown->top5)},
                       {"exact_top5", ranked_json(shown->exact_top5)},
                       {"timing_ms", {{"preprocess", shown->timing.preprocess_ms},
                                      {"forward", shown->timing.forward_ms},
                                      {"attention", shown->timing.attention_ms},
                                      {"exact_forward", shown->timing.exact_forward_ms},
                                      {"end_to_end", shown->timing.end_to_end_ms}}},
                       {"fps", shown->fps}};
    if (!shown->top5.empty()) report["top1"] = ranked_json({shown->top5.front()}).front();
  }
  json segments = json::array();
  for (const ScriptSegment& segment : script.segments()) segments.push_back(segment_json(segment));
  report["segments"] = segments;
  const media::SweepProgress sweep = state.sweep.progress();
  json points = json::array();
  for (const media::SweepPoint& point : sweep.points) {
    points.push_back({{"attention", point.attention}, {"images", point.images}, {"top1", point.top1},
                      {"top5", point.top5}, {"forward_ms", point.forward_ms}, {"attention_ms", point.attention_ms}});
  }
  report["sweep"] = {{"running", sweep.running}, {"cancelled", sweep.cancelled}, {"stage", sweep.stage},
                     {"error", sweep.error}, {"points", points}};

  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    if (!out) fail(path, "cannot write the run report");
    out << report.dump(2) << "\n";
    if (!out) fail(path, "cannot write the run report");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) fail(path, "cannot write the run report (rename failed)");
}

}  // namespace distrvit::gui
