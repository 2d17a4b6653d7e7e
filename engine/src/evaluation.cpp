#include "distrvit/evaluation.h"

#include <algorithm>
#include <cmath>

namespace distrvit {

std::vector<float> softmax(const float* logits, int64_t classes) {
  const float max_logit = *std::max_element(logits, logits + classes);
  double sum = 0;
  for (int64_t i = 0; i < classes; ++i) sum += std::exp(double(logits[i]) - max_logit);
  std::vector<float> probs(classes);
  for (int64_t i = 0; i < classes; ++i) probs[i] = float(std::exp(double(logits[i]) - max_logit) / sum);
  return probs;
}

std::vector<Prediction> top_k(const float* logits, int64_t classes, int k) {
  const std::vector<float> probs = softmax(logits, classes);
  std::vector<int> order(classes);
  for (int64_t i = 0; i < classes; ++i) order[i] = int(i);
  k = std::max(0, std::min<int>(k, int(classes)));
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::vector<Prediction> top;
  for (int i = 0; i < k; ++i) top.push_back({order[i], probs[order[i]]});
  return top;
}

namespace {

int argmax(const float* x, int64_t n) { return int(std::max_element(x, x + n) - x); }

// KL(p || q) for logits p, q, computed with log-softmax in double.
double kl_divergence(const float* p_logits, const float* q_logits, int64_t n) {
  auto log_sum_exp = [n](const float* x) {
    const double m = *std::max_element(x, x + n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
    return m + std::log(s);
  };
  const double lp = log_sum_exp(p_logits), lq = log_sum_exp(q_logits);
  double kl = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double log_p = p_logits[i] - lp, log_q = q_logits[i] - lq;
    kl += std::exp(log_p) * (log_p - log_q);
  }
  return std::max(0.0, kl);
}

}  // namespace

void AccuracyStats::add(const float* logits, const float* reference, int64_t classes, int label) {
  ++images;
  const auto top5 = top_k(logits, classes, 5);
  if (!top5.empty() && top5[0].index == label) ++top1_correct;
  for (const Prediction& p : top5) top5_correct += p.index == label;
  if (reference) {
    const int top1 = argmax(logits, classes), reference_top1 = argmax(reference, classes);
    agree_with_reference += top1 == reference_top1;
    lost_vs_reference += reference_top1 == label && top1 != label;
    kl_sum += kl_divergence(reference, logits, classes);
  }
}

}  // namespace distrvit
