// Per-(layer, head) calibration of approximate attention; see distrvit/calibrate.h.
#include "distrvit/calibrate.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "distrvit/attention_plan.h"
#include "distrvit/error.h"
#include "distrvit/evaluation.h"
#include "distrvit/safetensors.h"
#include "distrvit/model_plans.h"

namespace distrvit {
namespace {

// Runs `plan` over images [first, first + count) in batches; returns logits [count, classes].
Tensor run_plan(Engine& engine, const AttentionPlan& plan, const Tensor& images, int64_t count, int batch) {
  engine.set_attention(plan);
  const int64_t image_floats = images.numel() / images.dim(0);
  Tensor logits;
  for (int64_t start = 0; start < count; start += batch) {
    const int64_t n = std::min<int64_t>(batch, count - start);
    Tensor slice({n, images.dim(1), images.dim(2), images.dim(3)});
    std::copy(images.data.begin() + start * image_floats, images.data.begin() + (start + n) * image_floats,
              slice.data.begin());
    const Tensor out = engine.forward(slice);
    if (logits.data.empty()) logits = Tensor({count, out.dim(1)});
    std::copy(out.data.begin(), out.data.end(), logits.data.begin() + start * out.dim(1));
  }
  return logits;
}

AccuracyStats score(const Tensor& logits, const Tensor& reference, const std::vector<int>& labels) {
  AccuracyStats stats;
  const int64_t classes = logits.dim(1);
  for (int64_t i = 0; i < logits.dim(0); ++i) {
    stats.add(logits.ptr() + i * classes, reference.ptr() + i * classes, classes, labels[i]);
  }
  return stats;
}

bool labels_known(const std::vector<int>& labels) {
  return std::all_of(labels.begin(), labels.end(), [](int label) { return label >= 0; });
}

AttentionPlan exact_plan(int depth, int heads, std::shared_ptr<const LowRankProjections> lowrank) {
  AttentionPlan plan;
  plan.per_layer_head.assign(depth, std::vector<AttentionSpec>(heads));
  plan.lowrank = std::move(lowrank);
  return plan;
}

AttentionPlan plan_of_first(const std::vector<HeadChoice>& ranking, int k, const AttentionPlan& base) {
  AttentionPlan plan = base;
  for (int i = 0; i < k; ++i) plan.per_layer_head[ranking[i].layer][ranking[i].head] = ranking[i].spec;
  plan.name = fmt::format("calibrated:{}heads", k);
  return plan;
}

}  // namespace

CalibrationReport calibrate(Engine& engine, const Tensor& images, const std::vector<int>& labels,
                            const CalibrationOptions& options, const std::function<void(const std::string&)>& log) {
  const VitConfig& c = engine.model().config;
  const int64_t count = images.dim(0);
  if (count == 0 || int64_t(labels.size()) != count) throw Error("calibrate: need images and one label per image");
  std::vector<AttentionSpec> candidates;
  int rank = 0;
  for (const std::string& text : options.candidates) {
    candidates.push_back(parse_attention_spec(text, "--candidates"));
    if (candidates.back().kind == AttentionKind::LowRank) {
      if (rank && rank != candidates.back().rank) throw Error("--candidates: at most one low-rank rank");
      rank = candidates.back().rank;
    }
  }

  log(fmt::format("exact pass over {} calibration images", count));
  QkCovariance covariance(c.depth, c.num_heads, c.head_dim());
  engine.set_attention_observer([&](int layer, const AttentionParams& p) { covariance.add(layer, p); });
  const AttentionPlan base_exact = exact_plan(c.depth, c.num_heads, nullptr);
  const Tensor reference = run_plan(engine, base_exact, images, count, options.batch);
  engine.set_attention_observer(nullptr);
  std::shared_ptr<const LowRankProjections> lowrank;
  if (rank) lowrank = std::make_shared<const LowRankProjections>(covariance.projections(rank));
  const AttentionPlan base = exact_plan(c.depth, c.num_heads, lowrank);

  CalibrationReport report;
  report.images = int(count);
  report.total = c.depth * c.num_heads;
  const bool use_labels = labels_known(labels);
  const AccuracyStats exact_stats = score(reference, reference, labels);
  report.exact_top1 = use_labels ? exact_stats.top1() : 100.0;

  const int64_t probe = std::min<int64_t>(count, options.sensitivity_images);
  Tensor probe_reference({probe, reference.dim(1)});
  std::copy(reference.data.begin(), reference.data.begin() + probe * reference.dim(1), probe_reference.data.begin());
  const std::vector<int> probe_labels(labels.begin(), labels.begin() + probe);
  for (int layer = 0; layer < c.depth; ++layer) {
    for (int head = 0; head < c.num_heads; ++head) {
      HeadChoice best{layer, head, {}, 1e300};
      for (const AttentionSpec& spec : candidates) {
        AttentionPlan plan = base;
        plan.per_layer_head[layer][head] = spec;
        const double kl = score(run_plan(engine, plan, images, probe, options.batch), probe_reference, probe_labels).mean_kl();
        if (kl < best.mean_kl) best = {layer, head, spec, kl};
      }
      report.ranking.push_back(best);
      log(fmt::format("layer {:2d} head {:2d}: {} mean KL {:.5f}", layer, head, describe(best.spec), best.mean_kl));
    }
  }
  std::stable_sort(report.ranking.begin(), report.ranking.end(),
                   [](const HeadChoice& a, const HeadChoice& b) { return a.mean_kl < b.mean_kl; });

  // Largest k whose plan (the k least sensitive heads) stays within the calibration share of the budget.
  const double allowed = options.budget_points * options.margin;
  auto loss_of = [&](int k, AccuracyStats* out) {
    const AccuracyStats stats = score(run_plan(engine, plan_of_first(report.ranking, k, base), images, count, options.batch),
                                      reference, labels);
    if (out) *out = stats;
    // Lost correct predictions, not the net change: gains on a small calibration set are luck and
    // held-out images do not repeat them (net loss on held-out images came out 9x the calibration net loss).
    const double loss = use_labels ? stats.lost_points() : 100.0 - stats.agreement();
    log(fmt::format("{:2d} heads approximated: top-1 {:.2f} % (exact {:.2f} %), lost {:.2f} points, agreement {:.2f} %", k,
                    stats.top1(), report.exact_top1, stats.lost_points(), stats.agreement()));
    return loss;
  };
  int lo = 0, hi = report.total;  // loss(lo) <= allowed is known (k = 0 is exact)
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (loss_of(mid, nullptr) <= allowed) lo = mid;
    else hi = mid - 1;
  }
  AccuracyStats final_stats;
  loss_of(lo, &final_stats);
  report.approximated = lo;
  report.plan = plan_of_first(report.ranking, lo, base);
  report.plan_top1 = use_labels ? final_stats.top1() : final_stats.agreement();
  report.plan_agreement = final_stats.agreement();
  return report;
}

void save_calibrated_plan(const std::string& path, const CalibrationReport& report, const VitConfig& config) {
  const bool uses_lowrank = report.plan.lowrank != nullptr;
  if (uses_lowrank) {
    const LowRankProjections& p = *report.plan.lowrank;
    Tensor u({p.depth, p.heads, p.head_dim, p.rank});
    u.data = p.u;
    write_safetensors(path + ".lowrank.safetensors", {f32_tensor("u", u)}, {{"model", config.architecture}});
  }
  save_plan(path, report.plan, config.depth, config.num_heads, config.architecture);
}

AttentionPlan resolve_attention(const std::string& text, const VitModel& model) {
  const VitConfig& config = model.config;
  const bool calibrated = text == kCalibratedPlanSpec;
  const bool plan_file = !calibrated && text.rfind("plan:", 0) == 0;
  const std::string plan_path = calibrated ? calibrated_plan_path(model) : plan_file ? text.substr(5) : "";
  AttentionPlan plan = parse_attention(plan_path.empty() ? text : "plan:" + plan_path, config.depth, config.num_heads);
  if (calibrated) plan.name = text;
  int rank = 0;
  for (int layer = 0; layer < config.depth; ++layer) {
    for (int head = 0; head < config.num_heads; ++head) {
      if (plan.at(layer, head).kind == AttentionKind::LowRank) rank = plan.at(layer, head).rank;
    }
  }
  if (rank == 0) return plan;
  if (plan_path.empty()) {
    throw Error("--attention " + text + ": low-rank attention needs calibrated projections; use a plan from distrvit calibrate");
  }
  const std::string sidecar = plan_path + ".lowrank.safetensors";
  const SafetensorsFile file(sidecar);
  const Tensor u = file.to_float("u");
  const std::vector<int64_t> expected{config.depth, config.num_heads, config.head_dim(), rank};
  if (u.shape != expected) {
    fail(sidecar, "tensor 'u' has shape {}, expected {}", shape_string(u.shape), shape_string(expected));
  }
  auto projections = std::make_shared<LowRankProjections>();
  projections->depth = config.depth;
  projections->heads = config.num_heads;
  projections->head_dim = config.head_dim();
  projections->rank = rank;
  projections->u = u.data;
  plan.lowrank = std::move(projections);
  return plan;
}

}  // namespace distrvit
