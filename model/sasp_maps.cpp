// SasP maps: similarity (3.1), the full-resolution origin_sm (3.2) and the
// coarse selection grid (3.3).
#include <algorithm>
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
  // The reference multiplies elementwise and sums over channels, which
  // materialises an [Nt, D] product (and two more in backward). A matrix-vector
  // product is the same dot product with another float summation order (~1e-6
  // relative; every fixture, including the exact discrete decisions, still
  // passes) and makes forward + backward ~3x faster at D = 4096.
  return image_hidden.matmul(seg.reshape({-1}));
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

// min-max(sim) -> side x side -> bilinear to target^2 -> zero pad (negative
// pad crops): the map that the last bilinear resize takes to (H, W).
static torch::Tensor padded_origin_map(const torch::Tensor& sim, int64_t H, int64_t W,
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
  return sm[0][0];
}

torch::Tensor origin_similarity_map(const torch::Tensor& sim, int64_t H, int64_t W,
                                    int64_t target_size) {
  torch::Tensor padded = padded_origin_map(sim, H, W, target_size);
  return bilinear(padded.unsqueeze(0).unsqueeze(0), H, W)[0][0];
}

namespace {
// One axis of ATen's CPU bilinear resize (align_corners false, no scale
// factor): the two source indices and weights of each output index, with the
// kernel's arithmetic as measured on LibTorch 1.13 (float ratio in/out, source
// index in double, lambda1 rounded to float, lambda0 = 1 - lambda1 in float;
// same size = copy). Only matters at the zero-padding edge, where the two
// taps differ a lot.
struct Taps {
  torch::Tensor i0, i1, l0, l1;  // same shape as the output indices
};
Taps bilinear_taps(const torch::Tensor& out_idx, int64_t in_size, int64_t out_size) {
  torch::Tensor idx = out_idx.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t n = idx.numel();
  torch::Tensor i0 = torch::empty({n}, torch::kInt64), i1 = torch::empty({n}, torch::kInt64);
  torch::Tensor l0 = torch::empty({n}, torch::kFloat32), l1 = torch::empty({n}, torch::kFloat32);
  const int64_t* o = idx.data_ptr<int64_t>();
  int64_t *a = i0.data_ptr<int64_t>(), *b = i1.data_ptr<int64_t>();
  float *w0 = l0.data_ptr<float>(), *w1 = l1.data_ptr<float>();
  const float ratio = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int64_t k = 0; k < n; ++k) {
    if (in_size == out_size) {
      a[k] = b[k] = o[k];
      w0[k] = 1.f;
      w1[k] = 0.f;
      continue;
    }
    double src = static_cast<double>(ratio) * (static_cast<double>(o[k]) + 0.5) - 0.5;
    if (src < 0) src = 0;
    a[k] = static_cast<int64_t>(src);
    b[k] = a[k] + (a[k] < in_size - 1 ? 1 : 0);
    w1[k] = static_cast<float>(std::min(std::max(src - static_cast<double>(a[k]), 0.0), 1.0));
    w0[k] = 1.f - w1[k];
  }
  auto dev = out_idx.device();
  auto shape = out_idx.sizes();
  return {i0.reshape(shape).to(dev), i1.reshape(shape).to(dev), l0.reshape(shape).to(dev),
          l1.reshape(shape).to(dev)};
}
}  // namespace

torch::Tensor origin_similarity_map_at(const torch::Tensor& sim, int64_t H, int64_t W,
                                       int64_t target_size, const torch::Tensor& ys,
                                       const torch::Tensor& xs) {
  READ_CHECK(ys.sizes() == xs.sizes(), "SasP: pixel rows and columns differ in shape");
  torch::Tensor padded = padded_origin_map(sim, H, W, target_size);
  const int64_t Hp = padded.size(0), Wp = padded.size(1);
  if (ys.numel() == 0) return padded.reshape(-1).narrow(0, 0, 0).reshape(ys.sizes());
  READ_CHECK(ys.min().item<int64_t>() >= 0 && ys.max().item<int64_t>() < H &&
                 xs.min().item<int64_t>() >= 0 && xs.max().item<int64_t>() < W,
             "SasP: sampled pixel outside the ", H, "x", W, " image");
  Taps ty = bilinear_taps(ys, Hp, H), tx = bilinear_taps(xs, Wp, W);
  torch::Tensor flat = padded.reshape(-1);
  auto at = [&](const torch::Tensor& r, const torch::Tensor& c) {
    return flat.index_select(0, (r * Wp + c).reshape(-1)).reshape(ys.sizes());
  };
  // The kernel's order: rows first, each a weighted pair of columns.
  torch::Tensor top = at(ty.i0, tx.i0) * tx.l0 + at(ty.i0, tx.i1) * tx.l1;
  torch::Tensor bottom = at(ty.i1, tx.i0) * tx.l0 + at(ty.i1, tx.i1) * tx.l1;
  return top * ty.l0 + bottom * ty.l1;
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
