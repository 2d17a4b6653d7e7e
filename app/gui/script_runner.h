// Runs a --script against the live GUI, one step after another, and measures each `frames=N` segment.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "gui_script.h"
#include "gui_state.h"
#include "result_log.h"

namespace distrvit::gui {

// What happened while one `frames=N` step waited.
struct ScriptSegment {
  std::string step;          // "frames=10"
  std::string attention;     // the configuration asked for
  std::string device;
  uint64_t config_version = 0;
  int frames_wanted = 0;
  int frames = 0;            // classified with this configuration
  int64_t ui_frames = 0;     // drawn while waiting
  double longest_ui_frame_ms = 0;  // the longest gap between two drawn UI frames
  double forward_ms = 0;     // sums over `frames`; the report gives means
  double attention_ms = 0;
  double end_to_end_ms = 0;
  std::vector<std::string> ran;  // attention names the results report (normally one)
  std::vector<media::RankedClass> top1;  // per frame
};

class ScriptRunner {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ScriptRunner(std::vector<ScriptStep> steps) : steps_(std::move(steps)) {}

  // Feeds the results classified since the last call, then runs steps until one has to wait.
  // Returns true once every step has run.
  bool advance(GuiState& state, const std::vector<LoggedResult>& results, Clock::time_point now);
  bool done() const { return next_ >= steps_.size() && !waiting_frames_ && !waiting_time_ && !waiting_sweep_; }
  bool waiting_for_frames() const { return waiting_frames_; }
  std::string pending_step() const;

  const std::vector<ScriptSegment>& segments() const { return segments_; }
  const std::vector<std::string>& errors() const { return errors_; }
  std::vector<std::string> take_screenshot_requests();

 private:
  void run_step(const ScriptStep& step, GuiState& state, Clock::time_point now);
  void start_segment(const ScriptStep& step, GuiState& state);
  void record(const LoggedResult& result);

  std::vector<ScriptStep> steps_;
  size_t next_ = 0;
  bool waiting_frames_ = false;
  bool waiting_time_ = false;
  bool waiting_sweep_ = false;
  Clock::time_point wait_until_;
  Clock::time_point last_ui_frame_;
  std::vector<ScriptSegment> segments_;
  std::vector<std::string> errors_;
  std::vector<std::string> screenshot_requests_;
};

}  // namespace distrvit::gui
