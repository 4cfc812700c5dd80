#include "data/mask_reason.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "data/poly_raster.h"

namespace rd {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// np.array(points, dtype=np.int32): truncation toward zero.
std::vector<IPoint> to_int_points(const LabelMeShape& s, size_t index) {
  READ_CHECK(!s.points.empty() && s.points.size() % 2 == 0, "shape ", index, " ('", s.label,
             "') has no points or an odd number of coordinates");
  std::vector<IPoint> pts;
  for (size_t i = 0; i + 1 < s.points.size(); i += 2) {
    const double x = s.points[i], y = s.points[i + 1];
    READ_CHECK(std::isfinite(x) && std::isfinite(y) && std::fabs(x) < 2147483647.0 &&
                   std::fabs(y) < 2147483647.0,
               "shape ", index, " ('", s.label, "') has a point outside the int32 range");
    pts.push_back({static_cast<int32_t>(x), static_cast<int32_t>(y)});
  }
  return pts;
}

void draw(std::vector<uint8_t>& m, int h, int w, const std::vector<IPoint>& pts, uint8_t value) {
  cv_polylines_closed(m.data(), h, w, pts, value);
  cv_fill_poly(m.data(), h, w, pts, value);
}

}  // namespace

bool is_flag_label(const std::string& label) { return lower(label) == "flag"; }
bool is_ignore_label(const std::string& label) {
  return lower(label).find("ignore") != std::string::npos;
}

ReasonMask reason_seg_mask(const std::vector<LabelMeShape>& shapes, int h, int w) {
  READ_CHECK(h > 0 && w > 0, "mask size ", h, "x", w, " is not positive");
  ReasonMask out;
  std::vector<std::vector<IPoint>> pts;
  std::vector<uint8_t> tmp(static_cast<size_t>(h) * w);
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (is_flag_label(shapes[i].label)) continue;
    pts.push_back(to_int_points(shapes[i], i));
    std::fill(tmp.begin(), tmp.end(), 0);
    draw(tmp, h, w, pts.back(), 1);
    out.kept.push_back(static_cast<int64_t>(i));
    out.areas.push_back(std::count(tmp.begin(), tmp.end(), 1));
  }
  // Stable ascending argsort, reversed.
  std::vector<size_t> order(out.kept.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return out.areas[a] < out.areas[b]; });
  std::reverse(order.begin(), order.end());
  out.mask.assign(static_cast<size_t>(h) * w, 0);
  for (size_t k : order) {
    const auto& shape = shapes[static_cast<size_t>(out.kept[k])];
    draw(out.mask, h, w, pts[k], is_ignore_label(shape.label) ? 255 : 1);
    out.paint_order.push_back(out.kept[k]);
  }
  return out;
}

}  // namespace rd
