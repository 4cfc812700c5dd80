#include "data/mask_coco.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "common/error.h"

namespace rd {

// Port of maskApi.c rleFrPoly, step for step (same integer/double types and
// casts), because the rounding decides which pixels are in.
Rle rle_from_polygon(const std::vector<double>& xy, int64_t h, int64_t w) {
  const double scale = 5;
  const size_t k = xy.size() / 2;
  std::vector<int> x(k + 1), y(k + 1);
  for (size_t j = 0; j < k; ++j) x[j] = static_cast<int>(scale * xy[j * 2 + 0] + .5);
  for (size_t j = 0; j < k; ++j) y[j] = static_cast<int>(scale * xy[j * 2 + 1] + .5);
  if (k > 0) x[k] = x[0], y[k] = y[0];
  size_t m = 0;
  for (size_t j = 0; j < k; ++j)
    m += static_cast<size_t>(std::max(std::abs(x[j] - x[j + 1]), std::abs(y[j] - y[j + 1]))) + 1;
  std::vector<int> u(m), v(m);
  m = 0;
  for (size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) std::swap(xs, xe), std::swap(ys, ye);
    if (dx == 0 && dy == 0) {
      // The reference computes 0/0 here and casts NaN to int (INT_MIN on
      // x86). The value is never read: both neighbours share this x.
      u[m] = xs, v[m] = INT_MIN, ++m;
      continue;
    }
    const double s = dx >= dy ? static_cast<double>(ye - ys) / dx : static_cast<double>(xe - xs) / dy;
    if (dx >= dy) {
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        u[m] = t + xs;
        v[m] = static_cast<int>(ys + s * t + .5);
        ++m;
      }
    } else {
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        v[m] = t + ys;
        u[m] = static_cast<int>(xs + s * t + .5);
        ++m;
      }
    }
  }
  // Points along the y-boundary, downsampled.
  const size_t npts = m;
  std::vector<int> bx, by;
  bx.reserve(npts), by.reserve(npts);
  for (size_t j = 1; j < npts; ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = static_cast<double>(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / scale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > static_cast<double>(static_cast<uint64_t>(w) - 1)) continue;
    double yd = static_cast<double>(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / scale - .5;
    if (yd < 0)
      yd = 0;
    else if (yd > static_cast<double>(h))
      yd = static_cast<double>(h);
    yd = std::ceil(yd);
    bx.push_back(static_cast<int>(xd));
    by.push_back(static_cast<int>(yd));
  }
  // RLE from the boundary points.
  std::vector<uint32_t> a(bx.size() + 1);
  for (size_t j = 0; j < bx.size(); ++j)
    a[j] = static_cast<uint32_t>(bx[j] * static_cast<int>(h) + by[j]);
  a[bx.size()] = static_cast<uint32_t>(h * w);
  std::sort(a.begin(), a.end());
  uint32_t p = 0;
  for (auto& t : a) {
    const uint32_t cur = t;
    t -= p;
    p = cur;
  }
  Rle r;
  r.h = h, r.w = w;
  size_t j = 0;
  r.counts.push_back(a[j++]);
  while (j < a.size()) {
    if (a[j] > 0) {
      r.counts.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) r.counts.back() += a[j++];
    }
  }
  return r;
}

Rle rle_from_string(const std::string& s, int64_t h, int64_t w) {
  Rle r;
  r.h = h, r.w = w;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      READ_CHECK(p < s.size(), "compressed RLE string ends inside a count");
      const int c = static_cast<unsigned char>(s[p]) - 48;
      READ_CHECK(c >= 0 && c < 64, "compressed RLE string has an invalid character (byte ",
                 static_cast<int>(static_cast<unsigned char>(s[p])), " at ", p, ")");
      READ_CHECK(k < 7, "compressed RLE string has a count longer than 7 characters");
      // 32-bit int arithmetic as in the reference: (c & 0x1f) << 5k, -1 << 5k.
      x |= static_cast<int32_t>(static_cast<uint32_t>(c & 0x1f) << (5 * k));
      more = (c & 0x20) != 0;
      ++p, ++k;
      if (!more && (c & 0x10)) x |= static_cast<int32_t>(0xffffffffu << (5 * k));
    }
    if (r.counts.size() > 2) x += static_cast<int64_t>(r.counts[r.counts.size() - 2]);
    r.counts.push_back(static_cast<uint32_t>(x));
  }
  return r;
}

std::string rle_to_string(const Rle& rle) {
  std::string s;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    int64_t x = rle.counts[i];
    if (i > 2) x -= static_cast<int64_t>(rle.counts[i - 2]);
    bool more = true;
    while (more) {
      char c = static_cast<char>(x & 0x1f);
      x >>= 5;
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

int64_t rle_area(const Rle& rle) {
  int64_t a = 0;
  for (size_t j = 1; j < rle.counts.size(); j += 2) a += rle.counts[j];
  return a;
}

void rle_check(const Rle& rle, const std::string& what) {
  READ_CHECK(rle.h >= 0 && rle.w >= 0, what, ": RLE size ", rle.h, "x", rle.w, " is negative");
  uint64_t total = 0;
  for (uint32_t c : rle.counts) total += c;
  READ_CHECK(total == static_cast<uint64_t>(rle.h * rle.w), what, ": RLE runs cover ", total,
             " pixels, the mask has ", rle.h, "x", rle.w, " = ", rle.h * rle.w);
}

void rle_paint(const Rle& rle, uint8_t* hw) {
  uint64_t pos = 0;
  const uint64_t n = static_cast<uint64_t>(rle.h * rle.w);
  for (size_t j = 0; j < rle.counts.size(); ++j) {
    const uint64_t end = std::min<uint64_t>(n, pos + rle.counts[j]);
    if (j % 2 == 1 && pos < end) {  // column-major runs: down the column, then the next
      uint64_t col = pos / rle.h, row = pos % rle.h;
      for (uint64_t i = pos; i < end; ++i) {
        hw[row * rle.w + col] = 1;
        if (++row == static_cast<uint64_t>(rle.h)) row = 0, ++col;
      }
    }
    pos = end;
  }
}

std::vector<uint8_t> rle_decode(const Rle& rle) {
  std::vector<uint8_t> out(static_cast<size_t>(rle.h * rle.w), 0);
  rle_paint(rle, out.data());
  return out;
}

namespace {

using nlohmann::json;

std::vector<double> parse_polygon(const json& part, const std::string& where) {
  READ_CHECK(part.is_array(), where, ": a polygon part is not a list of numbers");
  std::vector<double> xy;
  xy.reserve(part.size());
  for (const auto& v : part) {
    READ_CHECK(v.is_number(), where, ": polygon coordinate ", v.dump(), " is not a number");
    const double d = v.get<double>();
    READ_CHECK(std::isfinite(d), where, ": polygon coordinate ", v.dump(), " is not finite");
    xy.push_back(d);
  }
  READ_CHECK(xy.size() % 2 == 0, where, ": polygon has an odd number of coordinates (",
             xy.size(), ")");
  READ_CHECK(xy.size() >= 6, where, ": polygon with ", xy.size() / 2, " points (< 3)");
  return xy;
}

CocoSegmentation::RleString parse_rle(const json& d, int64_t h, int64_t w, const std::string& where) {
  READ_CHECK(d.is_object() && d.contains("size") && d.contains("counts"), where,
             ": an RLE segmentation needs 'size' and 'counts'");
  const json& size = d["size"];
  READ_CHECK(size.is_array() && size.size() == 2 && size[0].is_number_integer() &&
                 size[1].is_number_integer(),
             where, ": RLE 'size' is not [h, w]");
  CocoSegmentation::RleString r;
  r.h = size[0].get<int64_t>(), r.w = size[1].get<int64_t>();
  READ_CHECK(r.h == h && r.w == w, where, ": RLE size ", r.h, "x", r.w,
             " differs from the image record's ", h, "x", w);
  const json& counts = d["counts"];
  Rle rle;
  if (counts.is_string()) {
    r.counts = counts.get<std::string>();
    try {
      rle = rle_from_string(r.counts, h, w);
    } catch (const Error& e) {
      fail(where, ": ", e.what());
    }
  } else {
    READ_CHECK(counts.is_array(), where, ": RLE 'counts' is neither a string nor a list");
    rle.h = h, rle.w = w;
    for (const auto& c : counts) {
      READ_CHECK(c.is_number_integer() && c.get<int64_t>() >= 0 && c.get<int64_t>() <= UINT32_MAX,
                 where, ": RLE count ", c.dump(), " is not a non-negative 32-bit integer");
      rle.counts.push_back(static_cast<uint32_t>(c.get<int64_t>()));
    }
    r.counts = rle_to_string(rle);  // exact: the codec round-trips
  }
  rle_check(rle, where);
  return r;
}

}  // namespace

CocoSegmentation parse_coco_segmentation(const json& seg, int64_t h, int64_t w,
                                         const std::string& what) {
  CocoSegmentation out;
  READ_CHECK(h > 0 && w > 0, what, ": image size ", h, "x", w, " is not positive");
  if (seg.is_object()) {
    out.kind = CocoSegmentation::kRle;
    out.rles.push_back(parse_rle(seg, h, w, what));
    return out;
  }
  READ_CHECK(seg.is_array(), what, ": segmentation is neither a list nor an RLE dict");
  if (seg.empty()) return out;
  if (seg[0].is_object()) {
    out.kind = CocoSegmentation::kRle;
    for (size_t i = 0; i < seg.size(); ++i) {
      READ_CHECK(seg[i].is_object(), what, ": segmentation mixes RLE dicts and polygons");
      out.rles.push_back(parse_rle(seg[i], h, w, what + " RLE " + std::to_string(i)));
    }
    return out;
  }
  out.kind = CocoSegmentation::kPolygons;
  for (size_t i = 0; i < seg.size(); ++i)
    out.polygons.push_back(parse_polygon(seg[i], what + " polygon part " + std::to_string(i)));
  return out;
}

std::vector<Rle> segmentation_parts(const CocoSegmentation& seg, int64_t h, int64_t w) {
  std::vector<Rle> parts;
  for (const auto& p : seg.polygons) parts.push_back(rle_from_polygon(p, h, w));
  for (const auto& r : seg.rles) {
    parts.push_back(rle_from_string(r.counts, r.h, r.w));
    rle_check(parts.back(), "stored RLE");
  }
  return parts;
}

std::vector<uint8_t> segmentation_mask(const CocoSegmentation& seg, int64_t h, int64_t w) {
  std::vector<uint8_t> out(static_cast<size_t>(h * w), 0);
  for (const Rle& r : segmentation_parts(seg, h, w)) {
    READ_CHECK(r.h == h && r.w == w, "segmentation part of size ", r.h, "x", r.w,
               " on a ", h, "x", w, " canvas");
    rle_paint(r, out.data());
  }
  return out;
}

}  // namespace rd
