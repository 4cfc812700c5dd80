// SasP points: selection (3.4), discrete coordinates (3.5), the SAM frame
// (3.7) and the whole pipeline.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "model/sasp.h"

namespace rd {

SaspSelection select_points(const CoarseGrid& grid, const SaspConfig& cfg) {
  READ_CHECK(cfg.num_points >= 0, "SasP: num_points must be >= 0, got ", cfg.num_points);
  // The decisions are host-side integer bookkeeping (the reference also goes
  // through .item() per point); results go back to the map's device.
  torch::Tensor flat_t = grid.map.detach().reshape(-1).to(torch::kCPU, torch::kFloat32).contiguous();
  const float* v = flat_t.data_ptr<float>();
  const int64_t n = flat_t.numel();
  for (int64_t i = 0; i < n; ++i)
    READ_CHECK(std::isfinite(v[i]), "SasP: the similarity map is not finite (NaN/Inf hidden states?)");

  SaspSelection s;
  if (cfg.variant == SaspConfig::Variant::kCode) {
    s.t_pos = cfg.t_pos;
    s.t_neg = cfg.t_neg;
  } else {
    // Paper (Algorithm 1): mu +/- eps * sigma of the similarity values. The
    // statistics are taken over the real cells only (the -1 padding is not
    // similarity); sigma is the unbiased std (torch's default), 0 for one cell.
    double sum = 0, sq = 0;
    int64_t m = 0;
    for (int64_t i = 0; i < n; ++i)
      if (v[i] >= 0) sum += v[i], ++m;
    double mu = m ? sum / m : 0;
    for (int64_t i = 0; i < n; ++i)
      if (v[i] >= 0) sq += (v[i] - mu) * (v[i] - mu);
    double sigma = m > 1 ? std::sqrt(sq / (m - 1)) : 0;
    s.t_pos = mu + cfg.eps * sigma;
    s.t_neg = mu - cfg.eps * sigma;
  }
  // The reference compares a float32 tensor with a Python float: the scalar is
  // cast to float32 first (matters for v == float(0.2) > 0.2).
  const float tp = static_cast<float>(s.t_pos), tn = static_cast<float>(s.t_neg);

  std::vector<int64_t> pos, neg, neutral;
  for (int64_t i = 0; i < n; ++i) {
    if (v[i] >= tp)
      pos.push_back(i);
    else if (v[i] >= 0 && v[i] <= tn)  // padding (-1) never qualifies
      neg.push_back(i);
    else if (v[i] > tn && v[i] < tp)
      neutral.push_back(i);
  }
  // Ordering: positives by value descending, negatives ascending, neutrals in
  // raster order. The reference's torch.argsort is not stable (ties are
  // implementation-defined); a stable sort breaks ties by raster order.
  // A cell that is both >= t_pos and <= t_neg (only possible when the paper's
  // sigma is 0) counts as positive once; the reference would list it twice.
  std::stable_sort(pos.begin(), pos.end(), [&](int64_t a, int64_t b) { return v[a] > v[b]; });
  std::stable_sort(neg.begin(), neg.end(), [&](int64_t a, int64_t b) { return v[a] < v[b]; });
  s.num_pos = static_cast<int64_t>(pos.size());
  s.num_neg = static_cast<int64_t>(neg.size());
  s.num_neutral = static_cast<int64_t>(neutral.size());

  std::vector<int64_t> idx, lab;
  auto take = [&](const std::vector<int64_t>& from, int64_t label) {
    for (int64_t i : from) {
      if (static_cast<int64_t>(idx.size()) >= cfg.num_points) return;
      idx.push_back(i);
      lab.push_back(label);
    }
  };
  take(pos, 1);
  take(neg, 0);
  take(neutral, -1);
  auto K = static_cast<int64_t>(idx.size());
  auto dev = grid.map.device();
  s.indices = torch::tensor(idx, torch::kInt64).reshape({K}).to(dev);
  s.labels = torch::tensor(lab, torch::kInt64).reshape({K}).to(dev);
  return s;
}

torch::Tensor discrete_coordinates(const torch::Tensor& indices, const CoarseGrid& grid, int64_t H,
                                   int64_t W) {
  torch::Tensor idx = indices.detach().to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t K = idx.numel();
  torch::Tensor out = torch::empty({K, 2}, torch::kInt64);
  auto o = out.accessor<int64_t, 2>();
  const int64_t* q = idx.data_ptr<int64_t>();
  // The reference computes (idx % w + 0.5) * scale on a 0-dim float32 tensor
  // (the Python-float scale is cast to float32), takes min with float32(W-1),
  // then int() truncates. float64 would change some results, e.g.
  // (7 + 0.5) * (300 / 18) = 125 but 124.99999 in float32.
  const float sw = static_cast<float>(grid.scale_w), sh = static_cast<float>(grid.scale_h);
  const float bw = static_cast<float>(W - 1), bh = static_cast<float>(H - 1);
  for (int64_t k = 0; k < K; ++k) {
    READ_CHECK(q[k] >= 0 && q[k] < grid.h * grid.w, "SasP: cell index ", q[k], " outside the ",
               grid.h, "x", grid.w, " grid");
    float x = (static_cast<float>(q[k] % grid.w) + 0.5f) * sw;
    float y = (static_cast<float>(q[k] / grid.w) + 0.5f) * sh;
    float xc = bw < x ? bw : x, yc = bh < y ? bh : y;
    o[k][0] = static_cast<int64_t>(xc);
    o[k][1] = static_cast<int64_t>(yc);
  }
  return out.to(indices.device());
}

std::pair<int64_t, int64_t> sam_preprocess_shape(int64_t H, int64_t W, int64_t long_side) {
  double scale = static_cast<double>(long_side) / static_cast<double>(std::max(H, W));
  auto nh = static_cast<int64_t>(static_cast<double>(H) * scale + 0.5);
  auto nw = static_cast<int64_t>(static_cast<double>(W) * scale + 0.5);
  return {nh, nw};
}

torch::Tensor points_to_sam_frame(const torch::Tensor& points, int64_t H, int64_t W, int64_t sam_h,
                                  int64_t sam_w) {
  READ_CHECK(points.dim() == 2 && points.size(1) == 2, "SasP: points must be [K, 2], got ",
             points.sizes());
  // float32 tensor times a Python-float ratio, as the reference's apply_coords.
  float sx = static_cast<float>(static_cast<double>(sam_w) / static_cast<double>(W));
  float sy = static_cast<float>(static_cast<double>(sam_h) / static_cast<double>(H));
  torch::Tensor scale =
      torch::tensor({sx, sy}, torch::TensorOptions().dtype(torch::kFloat32).device(points.device()));
  return points.to(torch::kFloat32) * scale;
}

SaspResult similarity_map_to_points(const torch::Tensor& sim, int64_t H, int64_t W,
                                    const SaspConfig& cfg) {
  SaspResult r;
  r.similarity = sim;
  r.grid = coarse_grid(sim, H, W, cfg.down_sample);
  r.selection = select_points(r.grid, cfg);
  r.labels = r.selection.labels;
  r.points_discrete = discrete_coordinates(r.selection.indices, r.grid, H, W);
  int64_t radius = cfg.effective_window_radius();
  if (radius < 0 || cfg.keep_origin_sm)
    r.origin_sm = origin_similarity_map(sim, H, W, cfg.target_size);
  // Improvement: the reference builds the H x W map and sums over all of it
  // for every point; the window needs origin_sm at (2r+1)^2 pixels per point.
  r.points = radius < 0
                 ? discrete_to_continuous_full_grid(r.origin_sm, r.points_discrete, cfg.variant)
                 : discrete_to_continuous_from_similarity(sim, H, W, cfg.target_size,
                                                          r.points_discrete, radius, cfg.variant);
  return r;
}

SaspResult similarity_as_points(const torch::Tensor& image_hidden, const torch::Tensor& seg_hidden,
                                int64_t H, int64_t W, const SaspConfig& cfg) {
  return similarity_map_to_points(sasp_similarity(image_hidden, seg_hidden), H, W, cfg);
}

}  // namespace rd
