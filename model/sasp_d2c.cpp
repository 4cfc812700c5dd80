// SasP discrete-to-continuous (spec 3.6): the local-window version used by the
// model and the reference's full-image version (tests, benchmark).
#include "common/error.h"
#include "model/sasp.h"

namespace rd {

static void check_d2c_inputs(const torch::Tensor& origin_sm, const torch::Tensor& pts) {
  READ_CHECK(origin_sm.dim() == 2 && origin_sm.numel() > 0,
             "SasP D2C: origin_sm must be a non-empty [H, W] map, got ", origin_sm.sizes());
  READ_CHECK(pts.dim() == 2 && pts.size(1) == 2, "SasP D2C: points must be [K, 2], got ",
             pts.sizes());
}

// [0, 2] view of origin_sm: an empty result that still belongs to the graph,
// so sum(points).backward() works when nothing was selected.
static torch::Tensor empty_points(const torch::Tensor& origin_sm) {
  return origin_sm.reshape(-1).narrow(0, 0, 0).reshape({0, 2});
}

// The reference (Discrete_to_Continuous / sample_continuous_coordinates):
//   p = softmax(origin_sm over all H*W pixels)
//   w(g) = exp(-|g - q|^2) p(g), normalised;  q' = sum_g w(g) g
// Since p(g) = exp(origin_sm(g)) / Z and Z cancels in the normalisation,
// w(g) is proportional to exp(origin_sm(g) - |g - q|^2). origin_sm is in
// [0, 1], so a pixel at distance d weighs at most e^(1 - d^2) relative to the
// centre: beyond d = 10 that is below e^-99, far under float32 precision (and
// exp underflows to 0 in the reference too). Improvement: sum over a
// (2r+1)^2 window around q instead of all H*W pixels per point (the
// reference costs K*H*W exp() per call: 23.6 M for 30 points on 1024x768).
// The mean is accumulated as q + sum w * (g - q), which is also more precise
// than the reference's sum w * g in float32 (its error is ~1e-4 px).
// Gradients reach origin_sm through the weights, as in the reference (the
// integer q carries none).
namespace {
// The (2r+1)^2 window around each discrete point, row-major.
struct Window {
  torch::Tensor dx, dy;        // [O] offsets
  torch::Tensor px, py;        // [K, 1] discrete points
  torch::Tensor gx, gy;        // [K, O] pixel coordinates, clamped into the image
  torch::Tensor valid;         // [K, O] inside the image
};
Window make_window(const torch::Tensor& points_discrete, int64_t radius, int64_t H, int64_t W,
                   torch::Device dev) {
  READ_CHECK(radius >= 1, "SasP D2C: window radius must be >= 1, got ", radius);
  auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  Window w;
  torch::Tensor off = torch::arange(-radius, radius + 1, i64);
  const int64_t side = 2 * radius + 1;
  w.dy = off.repeat_interleave(side);
  w.dx = off.repeat({side});
  torch::Tensor pts = points_discrete.to(i64);
  w.px = pts.select(1, 0).unsqueeze(1);
  w.py = pts.select(1, 1).unsqueeze(1);
  torch::Tensor gx = w.px + w.dx, gy = w.py + w.dy;
  w.valid = gx.ge(0) & gx.lt(W) & gy.ge(0) & gy.lt(H);
  w.gx = gx.clamp(0, W - 1);
  w.gy = gy.clamp(0, H - 1);
  return w;
}

// q' = q + sum_g softmax_g(origin_sm(g) - dist(g, q)) (g - q) over the window.
torch::Tensor d2c_core(const Window& w, const torch::Tensor& vals, SaspConfig::Variant variant) {
  torch::Tensor dxf = w.dx.to(vals.scalar_type()), dyf = w.dy.to(vals.scalar_type());
  torch::Tensor dist = dxf * dxf + dyf * dyf;  // exact integers in float32
  if (variant == SaspConfig::Variant::kPaper) dist = dist.sqrt();  // the paper's exp(-d)
  torch::Tensor logits =
      (vals - dist).masked_fill(~w.valid, -std::numeric_limits<double>::infinity());
  torch::Tensor p = torch::softmax(logits, 1);  // the centre pixel is always valid
  torch::Tensor cx = w.px.to(p.scalar_type()).squeeze(1) + (p * dxf).sum(1);
  torch::Tensor cy = w.py.to(p.scalar_type()).squeeze(1) + (p * dyf).sum(1);
  return torch::stack({cx, cy}, 1);
}
}  // namespace

torch::Tensor discrete_to_continuous(const torch::Tensor& origin_sm,
                                     const torch::Tensor& points_discrete, int64_t radius,
                                     SaspConfig::Variant variant) {
  check_d2c_inputs(origin_sm, points_discrete);
  const int64_t K = points_discrete.size(0);
  if (K == 0) return empty_points(origin_sm);
  const int64_t H = origin_sm.size(0), W = origin_sm.size(1);
  Window w = make_window(points_discrete, radius, H, W, origin_sm.device());
  torch::Tensor vals =
      origin_sm.reshape(-1).index_select(0, (w.gy * W + w.gx).reshape(-1)).reshape(w.gx.sizes());
  return d2c_core(w, vals, variant);
}

torch::Tensor discrete_to_continuous_from_similarity(const torch::Tensor& sim, int64_t H, int64_t W,
                                                     int64_t target_size,
                                                     const torch::Tensor& points_discrete,
                                                     int64_t radius, SaspConfig::Variant variant) {
  READ_CHECK(points_discrete.dim() == 2 && points_discrete.size(1) == 2,
             "SasP D2C: points must be [K, 2], got ", points_discrete.sizes());
  Window w = make_window(points_discrete, radius, H, W, sim.device());
  torch::Tensor vals = origin_similarity_map_at(sim, H, W, target_size, w.gy, w.gx);
  if (points_discrete.size(0) == 0) return vals.reshape(-1).narrow(0, 0, 0).reshape({0, 2});
  return d2c_core(w, vals, variant);
}

torch::Tensor discrete_to_continuous_full_grid(const torch::Tensor& origin_sm,
                                               const torch::Tensor& points_discrete,
                                               SaspConfig::Variant variant) {
  check_d2c_inputs(origin_sm, points_discrete);
  const int64_t K = points_discrete.size(0);
  if (K == 0) return empty_points(origin_sm);
  const int64_t H = origin_sm.size(0), W = origin_sm.size(1);
  auto fopt = origin_sm.options().requires_grad(false);
  torch::Tensor p = torch::softmax(origin_sm.reshape(-1), 0);
  // meshgrid(arange(w), arange(h), indexing='xy') flattened row-major.
  torch::Tensor grid_x = torch::arange(W, fopt).repeat({H});
  torch::Tensor grid_y = torch::arange(H, fopt).repeat_interleave(W);
  torch::Tensor pts = points_discrete.to(torch::TensorOptions().dtype(torch::kInt64)).to(torch::kCPU);
  auto a = pts.accessor<int64_t, 2>();
  std::vector<torch::Tensor> out;
  out.reserve(K);
  for (int64_t k = 0; k < K; ++k) {
    auto x = static_cast<double>(a[k][0]), y = static_cast<double>(a[k][1]);
    torch::Tensor d = (grid_x - x).pow(2) + (grid_y - y).pow(2);
    if (variant == SaspConfig::Variant::kPaper) d = d.sqrt();
    torch::Tensor fw = torch::exp(-d) * p;
    fw = fw / fw.sum();
    out.push_back(torch::stack({(grid_x * fw).sum(), (grid_y * fw).sum()}));
  }
  return torch::stack(out);
}

}  // namespace rd
