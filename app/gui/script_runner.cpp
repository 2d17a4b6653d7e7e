#include "script_runner.h"

#include <filesystem>

#include "distrvit/error.h"

namespace distrvit::gui {
namespace {

// dialog=PATH: the Source dialog driven through the actions its buttons call.
void pick_in_source_dialog(FileBrowser& browser, const std::string& path) {
  browser.open(FileBrowser::Purpose::Source, path);
  std::error_code error;
  const bool folder = std::filesystem::is_directory(path, error);
  const std::string name = std::filesystem::path(path).filename().string();
  const bool picked = folder ? browser.pick_folder() : (browser.select(name) && browser.pick_file());
  if (picked) return;
  browser.cancel();
  if (!browser.error().empty()) throw Error(browser.error());
  fail(name, "not listed in {}", browser.folder());
}

}  // namespace

std::string ScriptRunner::pending_step() const {
  if (waiting_frames_ || waiting_time_ || waiting_sweep_) return steps_[next_ - 1].text();
  return next_ < steps_.size() ? steps_[next_].text() : "";
}

std::vector<std::string> ScriptRunner::take_screenshot_requests() {
  std::vector<std::string> requests;
  requests.swap(screenshot_requests_);
  return requests;
}

void ScriptRunner::record(const LoggedResult& result) {
  ScriptSegment& segment = segments_.back();
  if (result.config_version < segment.config_version || segment.frames >= segment.frames_wanted) return;
  ++segment.frames;
  segment.forward_ms += result.timing.forward_ms;
  segment.attention_ms += result.timing.attention_ms;
  segment.end_to_end_ms += result.timing.end_to_end_ms;
  segment.top1.push_back(result.top1);
  if (segment.ran.empty() || segment.ran.back() != result.attention) segment.ran.push_back(result.attention);
}

bool ScriptRunner::advance(GuiState& state, const std::vector<LoggedResult>& results, Clock::time_point now) {
  if (waiting_frames_) {
    ScriptSegment& segment = segments_.back();
    ++segment.ui_frames;
    if (segment.ui_frames > 1) {
      const double gap = std::chrono::duration<double, std::milli>(now - last_ui_frame_).count();
      segment.longest_ui_frame_ms = std::max(segment.longest_ui_frame_ms, gap);
    }
    for (const LoggedResult& result : results) record(result);
    if (segment.frames < segment.frames_wanted) {
      last_ui_frame_ = now;
      return false;
    }
    waiting_frames_ = false;
  }
  last_ui_frame_ = now;
  if (waiting_time_) {
    if (now < wait_until_) return false;
    waiting_time_ = false;
  }
  if (waiting_sweep_) {
    if (state.sweep.progress().running) return false;
    waiting_sweep_ = false;
  }
  while (next_ < steps_.size() && !waiting_frames_ && !waiting_time_ && !waiting_sweep_) {
    const ScriptStep& step = steps_[next_++];
    try {
      run_step(step, state, now);
    } catch (const std::exception& e) {
      errors_.push_back(step.text() + ": " + e.what());
    }
  }
  return done();
}

void ScriptRunner::start_segment(const ScriptStep& step, GuiState& state) {
  ScriptSegment segment;
  segment.step = step.text();
  segment.attention = state.config.attention;
  segment.device = state.config.device;
  segment.config_version = state.config_version;
  segment.frames_wanted = step_int(step);
  segments_.push_back(std::move(segment));
  waiting_frames_ = true;
}

void ScriptRunner::run_step(const ScriptStep& step, GuiState& state, Clock::time_point now) {
  const std::string& key = step.key;
  const std::string& value = step.value;
  media::PipelineConfig& config = state.config;
  AttentionChoice& choice = state.choice;
  const auto distr = [&] {
    if (choice.backend != Backend::Distr) choice.backend = Backend::Distr;
    return &choice;
  };
  if (key == "frames") return start_segment(step, state);
  if (key == "wait") {
    waiting_time_ = true;
    wait_until_ = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(step_seconds(step)));
    return;
  }
  if (key == "attention") return state.set_attention_text(value);
  if (key == "sweep") {
    if (value == "start") return state.start_sweep();
    if (value == "cancel") return state.sweep.cancel();
    waiting_sweep_ = true;
    return;
  }
  if (key == "l") distr()->block = step_int(step);
  else if (key == "G") distr()->group = step_int(step);
  else if (key == "P") distr()->hash_bits = step_int(step);
  else if (key == "seed") distr()->seed = static_cast<uint64_t>(step_int(step));
  else if (key == "variant") distr()->sample = value == "sample";
  else if (key == "r") {
    choice.backend = Backend::LowRank;
    choice.rank = step_int(step);
  }
  if (key == "l" || key == "G" || key == "P" || key == "seed" || key == "variant" || key == "r") return state.apply_choice();

  if (key == "layers") {
    if (!state.status.model) fail("layers", "no model is loaded yet to know its depth (put a frames= step first)");
    config.approximate_layers = parse_layer_switches(value, state.status.model->config.depth);
  } else if (key == "device") config.device = value;
  else if (key == "precision") config.precision = value == "default" ? "" : value;
  else if (key == "threads") config.threads = step_int(step);
  else if (key == "model") config.model = state.model_text = value;
  else if (key == "layer") {
    config.attention_layer = step_int(step);
    config.capture_attention = true;
  } else if (key == "compare") config.compare_exact = value == "on";
  else if (key == "head") {
    state.view.head = value == "mean" ? -1 : step_int(step);
    state.view.stale = true;
    return;
  } else if (key == "pause") return state.pipeline.set_playing(false);
  else if (key == "play") return state.pipeline.set_playing(true);
  else if (key == "step") return state.pipeline.step();
  else if (key == "screenshot") return screenshot_requests_.push_back(value);
  else if (key == "video") return state.open_source(media::SourceSpec::video(value));
  else if (key == "camera") return state.open_source(media::SourceSpec::camera(step_int(step)));
  else if (key == "images") return state.open_source(media::SourceSpec::images({value}));
  else if (key == "dialog") return pick_in_source_dialog(state.browser, value);
  state.apply_config();
}

}  // namespace distrvit::gui
