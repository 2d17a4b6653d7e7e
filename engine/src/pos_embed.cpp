// Resampling a position embedding grid, as timm's resample_abs_pos_embed does
// (torch bicubic with antialias=True: the cubic with a = -0.5, widened when shrinking).
#include <cmath>
#include <vector>

#include "distrvit/model.h"

namespace distrvit {
namespace {

double cubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

// weights[o][i]: contribution of input position i to output position o (rows normalized).
std::vector<std::vector<double>> resample_weights(int in_size, int out_size) {
  const double scale = double(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 2.0 * filter_scale;
  std::vector<std::vector<double>> weights(out_size, std::vector<double>(in_size, 0.0));
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(0, int(center - support + 0.5));
    const int hi = std::min(in_size, int(center + support + 0.5));
    double total = 0;
    for (int i = lo; i < hi; ++i) total += weights[o][i] = cubic((i - center + 0.5) / filter_scale);
    if (total != 0) {
      for (int i = lo; i < hi; ++i) weights[o][i] /= total;
    }
  }
  return weights;
}

}  // namespace

Tensor resample_pos_embed(const Tensor& pos_embed, int prefix_tokens, int old_gh, int old_gw, int new_gh, int new_gw) {
  const int64_t e = pos_embed.shape.at(2);
  Tensor out({1, prefix_tokens + int64_t(new_gh) * new_gw, e});
  std::copy(pos_embed.data.begin(), pos_embed.data.begin() + prefix_tokens * e, out.data.begin());
  const auto wy = resample_weights(old_gh, new_gh);
  const auto wx = resample_weights(old_gw, new_gw);
  const float* grid = pos_embed.ptr() + prefix_tokens * e;  // [old_gh, old_gw, E]
  float* new_grid = out.ptr() + prefix_tokens * e;          // [new_gh, new_gw, E]
  std::vector<double> acc(e);
  for (int oy = 0; oy < new_gh; ++oy) {
    for (int ox = 0; ox < new_gw; ++ox) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int iy = 0; iy < old_gh; ++iy) {
        if (wy[oy][iy] == 0) continue;
        for (int ix = 0; ix < old_gw; ++ix) {
          const double w = wy[oy][iy] * wx[ox][ix];
          if (w == 0) continue;
          const float* src = grid + (int64_t(iy) * old_gw + ix) * e;
          for (int64_t c = 0; c < e; ++c) acc[c] += w * src[c];
        }
      }
      float* dst = new_grid + (int64_t(oy) * new_gw + ox) * e;
      for (int64_t c = 0; c < e; ++c) dst[c] = float(acc[c]);
    }
  }
  return out;
}

}  // namespace distrvit
