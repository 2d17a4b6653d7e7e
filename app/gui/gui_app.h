// distrvit-gui's main loop: draws the dashboard every frame from whatever the pipeline published last,
// and, for headless runs, runs the script, takes the screenshot and writes the report.
#pragma once
#include <chrono>
#include <memory>
#include <optional>

#include "gl_window.h"
#include "gui_options.h"
#include "gui_state.h"
#include "result_log.h"
#include "run_report.h"
#include "script_runner.h"

namespace distrvit::gui {

class GuiApp {
 public:
  explicit GuiApp(GuiOptions options);  // throws Error when no window can be opened
  int run();                            // returns the process exit code

 private:
  using Clock = std::chrono::steady_clock;

  void take_results();
  void draw_dashboard();
  void handle_browser_pick(const std::string& picked);
  void note_errors();
  std::optional<int> finish_if_done(Clock::time_point now);
  int finish(const std::string& result, const std::string& message, int exit_code);

  GlWindow window_;
  ResultLog log_;
  std::unique_ptr<media::Pipeline> pipeline_;
  std::unique_ptr<GuiState> state_;
  std::unique_ptr<ScriptRunner> script_;
  std::vector<LoggedResult> new_results_;
  RunOutcome outcome_;
  int64_t errors_seen_ = 0;
  Clock::time_point started_;
};

}  // namespace distrvit::gui
