// --script: a sequence of steps run while the GUI plays, for headless tests and documentation.
//   "frames=10;attention=distr:l=64:G=2;frames=10;G=4;frames=10"
// Steps are separated by ';' and run in order; `frames=N` waits until N frames were classified with the
// configuration in force (and drawn), `wait=S` waits S seconds; every other step changes something at once:
//   attention=TEXT  l=N  G=N  P=N  seed=N  variant=mean|sample  r=N  layers=LIST|all
//   device=D  precision=P|default  threads=N  model=M  layer=N  head=N|mean  compare=on|off
//   pause  play  step  screenshot=FILE.png  video=FILE  camera=N  images=PATH
//   dialog=PATH  (as a user would: the Source dialog opened at PATH's folder, PATH selected, "Open file" pressed;
//                 for a folder, "Open every image in this folder")
//   sweep=start|wait|cancel   (the accuracy-vs-latency sweep; `wait` waits for it to finish)
#pragma once
#include <string>
#include <vector>

namespace distrvit::gui {

struct ScriptStep {
  std::string key;
  std::string value;  // empty for pause, play, step
  std::string text() const { return value.empty() ? key : key + "=" + value; }
};

// Throws Error("--script: ...") naming the step that is not understood.
std::vector<ScriptStep> parse_script(const std::string& text);

// Parses the integer of a step already accepted by parse_script.
int step_int(const ScriptStep& step);
double step_seconds(const ScriptStep& step);

// "all" or "0-5,8" -> per-layer switches for `depth` layers. Throws Error naming the text.
std::vector<bool> parse_layer_switches(const std::string& text, int depth);

}  // namespace distrvit::gui
