#include "distrvit/model_plans.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include "distrvit/error.h"
#include "distrvit/hub.h"

namespace distrvit {
namespace fs = std::filesystem;
namespace {

// The folder holding the checkpoint: the source itself, or a .safetensors file's folder.
fs::path checkpoint_folder(const std::string& source) {
  fs::path path = fs::path(source).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // "folder/"
  if (path.extension() == ".safetensors") path = path.parent_path();
  return path;
}

std::string named_model(const VitModel& model) {
  const std::string name = model_name(model.source);
  if (name.empty()) fail(kCalibratedPlanSpec, "no calibrated plan for a model with random weights");
  return name;
}

}  // namespace

std::string model_name(const std::string& source) {
  if (source.empty() || source.rfind("random:", 0) == 0) return "";
  std::string name = checkpoint_folder(source).filename().string();
  if (const size_t cut = name.find("--"); cut != std::string::npos) name = name.substr(cut + 2);
  return name;
}

std::string cached_plan_path(const VitModel& model) {
  return (fs::path(default_cache_dir()) / "plans" / named_model(model) / "plan.json").string();
}

std::string calibrated_plan_path(const VitModel& model) {
  const std::string name = named_model(model);
  std::vector<fs::path> candidates = {checkpoint_folder(model.source) / "plan.json", cached_plan_path(model)};
  if (const char* models = std::getenv("DISTRVIT_MODELS"); models && *models)
    candidates.push_back(fs::path(models) / name / "plan.json");
  std::string searched;
  std::error_code ec;
  for (const fs::path& plan : candidates) {
    if (fs::is_regular_file(plan, ec)) return plan.string();
    searched += (searched.empty() ? "" : ", ") + plan.string();
  }
  fail(kCalibratedPlanSpec, "no calibrated plan for model '{}' (looked for {}); make one with distrvit calibrate "
       "--images DIR (it writes the second), or pass plan:FILE", name, searched);
}

}  // namespace distrvit
