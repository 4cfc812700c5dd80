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
  std::vector<uint8_t> tmp(static_cast<size_t>(h) * w);  // all zero between polygons
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (is_flag_label(shapes[i].label)) continue;
    pts.push_back(to_int_points(shapes[i], i));
    draw(tmp, h, w, pts.back(), 1);
    // The outline and the fill stay inside the vertices' bounding box (a
    // pixel of margin for safety), so count and clear only there: the area
    // is the reference's count of the whole canvas, at a fraction of the cost
    // on large images.
    int64_t x0 = w, x1 = -1, y0 = h, y1 = -1;
    for (const IPoint& p : pts.back())
      x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
    x0 = std::max<int64_t>(x0 - 1, 0), y0 = std::max<int64_t>(y0 - 1, 0);
    x1 = std::min<int64_t>(x1 + 1, w - 1), y1 = std::min<int64_t>(y1 + 1, h - 1);
    int64_t area = 0;
    for (int64_t y = y0; y <= y1 && x0 <= x1; ++y) {
      uint8_t* row = tmp.data() + y * w;
      area += std::count(row + x0, row + x1 + 1, 1);
      std::fill(row + x0, row + x1 + 1, 0);
    }
    out.kept.push_back(static_cast<int64_t>(i));
    out.areas.push_back(area);
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
