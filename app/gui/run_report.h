// The JSON report of a headless run, written next to its screenshot, so that tests can check what the
// screenshot shows (top-1 label, where the prediction panel is) and what happened during the script.
#pragma once
#include <string>
#include <vector>

#include "gui_state.h"
#include "script_runner.h"

namespace distrvit::gui {

struct RunOutcome {
  std::string result;  // "ok", "timeout", "source ended", "source error"
  std::string message; // one line, for stderr
  double seconds = 0;
  std::string renderer;
  std::string screenshot;
  std::vector<std::string> errors;  // pipeline and script errors, in order
};

// Writes atomically (temporary file + rename). Throws Error naming the path.
void write_run_report(const std::string& path, const GuiState& state, const ScriptRunner& script,
                      const RunOutcome& outcome);

}  // namespace distrvit::gui
