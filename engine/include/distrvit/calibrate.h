// Calibrating approximate attention: measure how much each (layer, head) suffers under each candidate
// approximation, then approximate as many heads as the top-1 budget allows, verified end to end.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "distrvit/engine.h"
#include "distrvit/tensor.h"

namespace distrvit {

// Running sums of q q^T + k k^T per (layer, head), fed by an attention observer during exact forwards.
class QkCovariance {
 public:
  QkCovariance(int depth, int heads, int head_dim);
  void add(int layer, const AttentionParams& params);
  // Top-`rank` eigenvectors of each (layer, head) sum (LAPACK dsyev from OpenBLAS).
  LowRankProjections projections(int rank) const;

 private:
  int depth_, heads_, head_dim_;
  std::vector<double> sums_;  // [depth, heads, D, D]
};

struct CalibrationOptions {
  std::vector<std::string> candidates{"lowrank:r=32", "distr:l=16:G=2"};
  double budget_points = 1.0;  // top-1 points the plan may lose
  double margin = 1.0;         // the plan may lose margin * budget points of correct predictions on the calibration images
  int sensitivity_images = 64; // images used to rank (layer, head, candidate) triples
  int batch = 16;
};

struct HeadChoice {
  int layer = 0, head = 0;
  AttentionSpec spec;
  double mean_kl = 0;  // KL(exact || only this head approximated), nats per image
};

struct CalibrationReport {
  AttentionPlan plan;
  std::vector<HeadChoice> ranking;  // least sensitive first
  int approximated = 0, total = 0;
  double exact_top1 = 0, plan_top1 = 0, plan_agreement = 0;
  int images = 0;
};

// images [N, 3, H, W]; labels[i] < 0 means unknown (then agreement with exact stands in for top-1).
CalibrationReport calibrate(Engine& engine, const Tensor& images, const std::vector<int>& labels,
                            const CalibrationOptions& options, const std::function<void(const std::string&)>& log);

// Saves `report.plan` (JSON, see attention_plan.h) and, when it uses low-rank heads, the projections beside it
// as "<path>.lowrank.safetensors" (tensor "u" [depth, heads, D, rank]).
void save_calibrated_plan(const std::string& path, const CalibrationReport& report, const VitConfig& config);

// parse_attention plus what plans need beyond text: low-rank projections from "<plan>.lowrank.safetensors", and
// "plan:calibrated", the calibrated plan of `model` (distrvit/model_plans.h).
AttentionPlan resolve_attention(const std::string& text, const VitModel& model);

}  // namespace distrvit
