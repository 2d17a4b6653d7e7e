// Turning logits into predictions and accuracy statistics.
#pragma once
#include <cstdint>
#include <vector>

namespace distrvit {

struct Prediction {
  int index;
  float prob;
};

// Softmax of one row of logits in double, returned as float probabilities.
std::vector<float> softmax(const float* logits, int64_t classes);
// The k most probable classes, best first.
std::vector<Prediction> top_k(const float* logits, int64_t classes, int k);

// Running accuracy of one attention configuration, optionally against a reference configuration.
struct AccuracyStats {
  int64_t images = 0;
  int64_t top1_correct = 0;
  int64_t top5_correct = 0;
  int64_t agree_with_reference = 0;  // same top-1 as the reference configuration
  int64_t lost_vs_reference = 0;     // the reference's top-1 was right, this one's is wrong
  double kl_sum = 0;                 // sum of KL(reference || this) in nats
  double seconds = 0;                // inference time spent (forward passes only)
  double attention_seconds = 0;

  // logits [classes] for one image; reference may be null.
  void add(const float* logits, const float* reference, int64_t classes, int label);
  double top1() const { return images ? 100.0 * top1_correct / images : 0; }
  double top5() const { return images ? 100.0 * top5_correct / images : 0; }
  double agreement() const { return images ? 100.0 * agree_with_reference / images : 0; }
  double mean_kl() const { return images ? kl_sum / images : 0; }
  // Points of top-1 lost where the reference was right; gains elsewhere are not subtracted, so this bounds
  // the net top-1 loss from above.
  double lost_points() const { return images ? 100.0 * lost_vs_reference / images : 0; }
};

}  // namespace distrvit
