#include "distrvit/model_plans.h"

#include <filesystem>
#include <system_error>

#include "data_folders.h"
#include "distrvit/error.h"

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

}  // namespace

std::string model_name(const std::string& source) {
  if (source.empty() || source.rfind("random:", 0) == 0) return "";
  std::string name = checkpoint_folder(source).filename().string();
  if (const size_t cut = name.find("--"); cut != std::string::npos) name = name.substr(cut + 2);
  return name;
}

std::string calibrated_plan_path(const VitModel& model) {
  const std::string name = model_name(model.source);
  if (name.empty()) fail(kCalibratedPlanSpec, "no calibrated plan for a model with random weights");
  std::error_code ec;
  const fs::path beside = checkpoint_folder(model.source) / "plan.json";
  if (fs::is_regular_file(beside, ec)) return beside.string();
  std::string searched = beside.string();
  for (const fs::path& folder : data_folder_candidates("DISTRVIT_MODELS", "models", "models")) {
    const fs::path plan = folder / name / "plan.json";
    if (fs::is_regular_file(plan, ec)) return plan.string();
    searched += ", " + plan.string();
  }
  fail(kCalibratedPlanSpec, "no calibrated plan for model '{}' (looked for {}); make one with distrvit calibrate "
       "--output <checkpoint folder>/plan.json, or pass plan:FILE", name, searched);
}

}  // namespace distrvit
