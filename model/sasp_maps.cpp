// SasP maps: similarity (3.1), the full-resolution origin_sm (3.2) and the
// coarse selection grid (3.3).
#include <cmath>

#include "common/error.h"
#include "model/sasp.h"

namespace rd {
namespace F = torch::nn::functional;

torch::Tensor sasp_similarity(const torch::Tensor& image_hidden, const torch::Tensor& seg_hidden) {
  READ_CHECK(image_hidden.dim() == 2, "SasP: image_hidden must be [Nt, D], got ",
             image_hidden.sizes());
  torch::Tensor seg = seg_hidden.reshape({1, -1});
  READ_CHECK(seg.size(1) == image_hidden.size(1), "SasP: seg_hidden width ", seg.size(1),
             " != image_hidden width ", image_hidden.size(1));
  // The reference multiplies elementwise and sums over channels (not a matmul);
  // the same summation keeps the float rounding close to it.
  return (image_hidden * seg).sum(-1);
}

torch::Tensor min_max_normalize(const torch::Tensor& x) {
  torch::Tensor lo = x.min(), hi = x.max();
  torch::Tensor range = hi - lo;
  // Improvement (spec 10.5): the reference divides by max - min, which is 0
  // for a constant map (NaN everywhere, then an IndexError later). A constant
  // map normalises to zeros here: every cell is then "low similarity".
  range = torch::where(range > 0, range, torch::ones_like(range));
  return (x - lo) / range;
}

SaspPad sasp_pad(int64_t H, int64_t W, int64_t target) {
  READ_CHECK(H > 0 && W > 0, "SasP: image size must be positive, got ", H, "x", W);
  SaspPad p;
  double scale = static_cast<double>(target) / static_cast<double>(std::min(H, W));
  // int() truncation of a double product, as the reference: 333 * (336 / 333)
  // = 335.99999999999994 -> 335, so the pad is (335 - 336) // 2 = -1 (a crop).
  p.new_h = static_cast<int64_t>(static_cast<double>(H) * scale);
  p.new_w = static_cast<int64_t>(static_cast<double>(W) * scale);
  p.pad_h = floor_div(p.new_h - target, 2);
  p.pad_w = floor_div(p.new_w - target, 2);
  return p;
}

static int64_t token_side(const torch::Tensor& sim) {
  READ_CHECK(sim.dim() == 1 && sim.numel() > 0, "SasP: similarity must be a non-empty [Nt] vector, got ",
             sim.sizes());
  auto side = static_cast<int64_t>(std::sqrt(static_cast<double>(sim.numel())));
  while (side * side > sim.numel()) --side;
  while ((side + 1) * (side + 1) <= sim.numel()) ++side;
  READ_CHECK(side * side == sim.numel(), "SasP: Nt = ", sim.numel(),
             " image tokens is not a square grid");
  return side;
}

static torch::Tensor bilinear(const torch::Tensor& x, int64_t h, int64_t w) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{h, w})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

torch::Tensor origin_similarity_map(const torch::Tensor& sim, int64_t H, int64_t W,
                                    int64_t target_size) {
  int64_t side = token_side(sim);
  READ_CHECK(target_size > 0, "SasP: target_size must be positive");
  // Min-max in the input dtype (bf16 in the released model), then float32, as
  // the reference's get_similarity_map.
  torch::Tensor sm = min_max_normalize(sim).reshape({1, 1, side, side}).to(torch::kFloat32);
  sm = bilinear(sm, target_size, target_size);
  SaspPad p = sasp_pad(H, W, target_size);
  // Zero padding; a negative pad crops (F.pad semantics, also constant_pad_nd's).
  sm = torch::constant_pad_nd(sm, {p.pad_w, p.pad_w, p.pad_h, p.pad_h}, 0.0);
  sm = bilinear(sm, H, W);
  return sm[0][0];
}

CoarseGrid coarse_grid(const torch::Tensor& sim, int64_t H, int64_t W, int64_t down_sample) {
  int64_t side = token_side(sim);
  READ_CHECK(down_sample >= 1, "SasP: down_sample must be >= 1, got ", down_sample);
  int64_t S = side / down_sample;
  READ_CHECK(S >= 1, "SasP: down_sample ", down_sample, " leaves no cell of the ", side, "x", side,
             " token grid");
  // The selection only yields integers (indices, labels, pixel positions):
  // no gradient can flow through it, so it is computed without a graph.
  torch::NoGradGuard no_grad;
  torch::Tensor sm = sim.detach().reshape({1, 1, side, side}).to(torch::kFloat32);
  sm = bilinear(sm, S, S)[0][0];  // side -> S, align_corners false, no antialias
  sm = min_max_normalize(sm);
  CoarseGrid g;
  g.pad = sasp_pad(H, W, S);
  // Padding cells get -1 so they are never selected (negatives need v >= 0).
  g.map = torch::constant_pad_nd(sm, {g.pad.pad_w, g.pad.pad_w, g.pad.pad_h, g.pad.pad_h}, -1.0);
  g.h = g.map.size(0);
  g.w = g.map.size(1);
  READ_CHECK(g.h > 0 && g.w > 0, "SasP: coarse grid is empty for a ", H, "x", W, " image");
  g.scale_h = static_cast<double>(H) / static_cast<double>(g.h);
  g.scale_w = static_cast<double>(W) / static_cast<double>(g.w);
  return g;
}

}  // namespace rd
