#include "distrvit/shipped_plans.h"

#include <filesystem>
#include <system_error>

#include "data_folders.h"
#include "distrvit/error.h"

namespace distrvit {
namespace fs = std::filesystem;

std::string model_name(const std::string& source) {
  if (source.empty() || source.rfind("random:", 0) == 0) return "";
  fs::path path = fs::path(source).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // "folder/"
  if (path.extension() == ".safetensors") path = path.parent_path();
  std::string name = path.filename().string();
  if (const size_t cut = name.find("--"); cut != std::string::npos) name = name.substr(cut + 2);
  return name;
}

std::string shipped_plan_path(const VitModel& model) {
  const std::string name = model_name(model.source);
  if (name.empty()) fail(kShippedPlanSpec, "no calibrated plan for a model with random weights");
  std::string searched;
  std::error_code ec;
  for (const fs::path& folder : data_folder_candidates("DISTRVIT_MODELS", "models", "models")) {
    const fs::path plan = folder / name / "plan.json";
    if (fs::is_regular_file(plan, ec)) return plan.string();
    searched += (searched.empty() ? "" : ", ") + folder.string();
  }
  fail(kShippedPlanSpec, "no calibrated plan ships for model '{}' (looked for {}/plan.json in {}); make one with "
       "distrvit calibrate and pass plan:FILE", name, name, searched);
}

}  // namespace distrvit
