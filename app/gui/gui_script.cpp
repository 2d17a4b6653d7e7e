#include "gui_script.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "distrvit/error.h"

namespace distrvit::gui {
namespace {

const std::set<std::string> kIntegerKeys = {"frames", "l", "G", "P", "seed", "r", "threads", "layer", "camera"};
const std::set<std::string> kTextKeys = {"attention", "device", "precision", "model", "screenshot", "video", "images",
                                         "dialog", "layers"};
const std::set<std::string> kBareKeys = {"pause", "play", "step"};

std::string trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\n") - first + 1);
}

bool is_integer(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

std::vector<ScriptStep> parse_script(const std::string& text) {
  std::vector<ScriptStep> steps;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ';');) {
    item = trim(item);
    if (item.empty()) continue;
    const size_t equals = item.find('=');
    ScriptStep step{trim(item.substr(0, equals)), equals == std::string::npos ? "" : trim(item.substr(equals + 1))};
    if (kBareKeys.count(step.key)) {
      if (equals != std::string::npos) fail("--script", "'{}' takes no value, got '{}'", step.key, item);
    } else if (kIntegerKeys.count(step.key)) {
      if (!is_integer(step.value)) fail("--script", "'{}' needs a whole number, got '{}'", step.key, item);
      if (step.key == "frames" && step_int(step) == 0) fail("--script", "'frames' needs at least 1, got '{}'", item);
    } else if (kTextKeys.count(step.key)) {
      if (step.value.empty()) fail("--script", "'{}' needs a value, got '{}'", step.key, item);
    } else if (step.key == "variant") {
      if (step.value != "mean" && step.value != "sample") fail("--script", "variant is mean or sample, got '{}'", item);
    } else if (step.key == "compare") {
      if (step.value != "on" && step.value != "off") fail("--script", "compare is on or off, got '{}'", item);
    } else if (step.key == "head") {
      if (step.value != "mean" && !is_integer(step.value)) fail("--script", "head is a number or mean, got '{}'", item);
    } else if (step.key == "sweep") {
      if (step.value != "start" && step.value != "wait" && step.value != "cancel") {
        fail("--script", "sweep is start, wait or cancel, got '{}'", item);
      }
    } else if (step.key == "wait") {
      try {
        if (std::stod(step.value) <= 0) throw std::invalid_argument("negative");
      } catch (const std::exception&) {
        fail("--script", "'wait' needs seconds above 0, got '{}'", item);
      }
    } else {
      fail("--script", "unknown step '{}' (frames, wait, attention, l, G, P, seed, variant, r, layers, device, "
                       "precision, threads, model, layer, head, compare, pause, play, step, screenshot, video, "
                       "camera, images, dialog, sweep)", item);
    }
    steps.push_back(std::move(step));
  }
  if (steps.empty()) fail("--script", "no steps in '{}'", text);
  return steps;
}

int step_int(const ScriptStep& step) {
  try {
    return std::stoi(step.value);
  } catch (const std::exception&) {
    fail("--script", "'{}': number out of range", step.text());
  }
}

double step_seconds(const ScriptStep& step) { return std::stod(step.value); }

std::vector<bool> parse_layer_switches(const std::string& text, int depth) {
  std::vector<bool> on(depth, text == "all");
  if (text == "all") return on;
  if (text == "none") return on;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    const size_t dash = item.find('-');
    const std::string first_text = item.substr(0, dash);
    const std::string last_text = dash == std::string::npos ? first_text : item.substr(dash + 1);
    if (!is_integer(first_text) || !is_integer(last_text)) fail("layers " + text, "expected a list such as 0-5,8");
    const int first = std::stoi(first_text), last = std::stoi(last_text);
    if (first > last || last >= depth) fail("layers " + text, "layer range {}-{} is outside 0-{}", first, last, depth - 1);
    for (int layer = first; layer <= last; ++layer) on[layer] = true;
  }
  return on;
}

}  // namespace distrvit::gui
