#include "gui_app.h"

#include <cstdio>

#include "distrvit/error.h"
#include "panels.h"

namespace distrvit::gui {
namespace {

constexpr double kInteractiveFrameSeconds = 1.0 / 60;
constexpr double kHeadlessFrameSeconds = 1.0 / 30;  // leaves the CPU to inference on small machines

std::vector<ScriptStep> headless_steps(const GuiOptions& options) {
  std::vector<ScriptStep> steps;
  if (!options.script.empty()) steps = parse_script(options.script);
  if (options.frames > 0) steps.push_back({"frames", std::to_string(options.frames)});
  return steps;
}

}  // namespace

GuiApp::GuiApp(GuiOptions options)
    : window_("distrvit", options.window_width, options.window_height), started_(Clock::now()) {
  if (options.headless_run()) script_ = std::make_unique<ScriptRunner>(headless_steps(options));
  else script_ = std::make_unique<ScriptRunner>(std::vector<ScriptStep>{});
  outcome_.renderer = window_.renderer();
  pipeline_ = std::make_unique<media::Pipeline>(options.config, options.playback,
                                                [this](const media::FrameResult& result) { log_.add(result); });
  state_ = std::make_unique<GuiState>(std::move(options), *pipeline_);
  if (state_->options.source.kind != media::SourceSpec::Kind::None) state_->open_source(state_->options.source);
  state_->apply_config();
}

int GuiApp::run() {
  GuiState& state = *state_;
  const bool headless = state.options.headless_run();
  while (!window_.should_close()) {
    window_.begin_frame(headless ? kHeadlessFrameSeconds : kInteractiveFrameSeconds);
    const auto now = Clock::now();
    take_results();
    state.open_paths(window_.take_dropped_paths());
    note_errors();
    if (headless) script_->advance(state, new_results_, now);
    refresh_attention_view(state);
    draw_dashboard();
    window_.end_frame();
    ++state.ui_frames;

    for (const std::string& path : script_->take_screenshot_requests()) {
      try {
        write_png(path, window_.read_pixels());
      } catch (const std::exception& e) {
        outcome_.errors.push_back(e.what());
      }
    }
    if (headless) {
      if (const std::optional<int> exit_code = finish_if_done(now)) return *exit_code;
    }
    window_.present();
  }
  return 0;
}

void GuiApp::take_results() {
  GuiState& state = *state_;
  new_results_ = log_.take();  // before latest(): the newest result is then at least as new as the log
  state.status = pipeline_->status();
  for (const LoggedResult& result : new_results_) {
    state.history.end_to_end.push(static_cast<float>(result.timing.end_to_end_ms));
    state.history.forward.push(static_cast<float>(result.timing.forward_ms));
    state.history.attention.push(static_cast<float>(result.timing.attention_ms));
    state.history.fps.push(static_cast<float>(result.fps));
  }
  if (auto latest = pipeline_->latest()) state.shown = std::move(latest);
}

void GuiApp::note_errors() {
  const media::PipelineStatus& status = state_->status;
  if (status.errors > errors_seen_) {
    outcome_.errors.push_back(status.error);
    errors_seen_ = status.errors;
  }
}

void GuiApp::draw_dashboard() {
  GuiState& state = *state_;
  const DashboardLayout layout = dashboard_layout(ImGui::GetIO().DisplaySize);
  draw_source_panel(state, layout.source);
  draw_model_panel(state, layout.model);
  draw_controls_panel(state, layout.controls);
  draw_view_panel(state, layout.view);
  draw_predictions_panel(state, layout.predictions);
  draw_performance_panel(state, layout.performance);
  draw_sweep_panel(state, layout.sweep);
  draw_file_browser(state.browser);
  if (const std::optional<std::string> picked = state.browser.take_picked()) handle_browser_pick(*picked);
}

void GuiApp::handle_browser_pick(const std::string& picked) {
  GuiState& state = *state_;
  switch (state.browser.purpose()) {
    case FileBrowser::Purpose::Source: state.open_paths({picked}); break;
    case FileBrowser::Purpose::Model:
      state.model_text = state.config.model = picked;
      state.apply_config();
      break;
    case FileBrowser::Purpose::SweepFolder: state.sweep_folder = picked; break;
  }
}

std::optional<int> GuiApp::finish_if_done(Clock::time_point now) {
  const GuiState& state = *state_;
  const media::PipelineStatus& status = state.status;
  if (script_->done()) {
    if (status.frames_processed == 0) return finish("no frames", "no frame was classified", 1);
    return finish("ok", "", 0);
  }
  if (script_->waiting_for_frames() && status.drained) {
    if (!status.source_error.empty()) return finish("source error", status.source_error, 1);
    if (status.source_ended) {
      return finish("source ended", status.source + ": ended before '" + script_->pending_step() + "' was done", 1);
    }
  }
  const double seconds = std::chrono::duration<double>(now - started_).count();
  if (seconds > state.options.timeout_s) {
    return finish("timeout", fmt::format("timed out after {:.0f} s waiting for '{}' ({} frames classified)", seconds,
                                         script_->pending_step(), status.frames_processed), 1);
  }
  return std::nullopt;
}

int GuiApp::finish(const std::string& result, const std::string& message, int exit_code) {
  GuiState& state = *state_;
  outcome_.result = result;
  outcome_.message = message;
  outcome_.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  for (const std::string& error : script_->errors()) outcome_.errors.push_back(error);
  try {
    if (!state.options.screenshot.empty()) {
      write_png(state.options.screenshot, window_.read_pixels());
      outcome_.screenshot = state.options.screenshot;
    }
    const std::string report = state.options.report_path();
    if (!report.empty()) write_run_report(report, state, *script_, outcome_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distrvit-gui: %s\n", e.what());
    return 1;
  }
  if (!message.empty()) std::fprintf(stderr, "distrvit-gui: %s\n", message.c_str());
  for (const std::string& error : script_->errors()) std::fprintf(stderr, "distrvit-gui: script: %s\n", error.c_str());
  return exit_code;
}

}  // namespace distrvit::gui
