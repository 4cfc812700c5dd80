#include "data/poly_raster.h"

#include <algorithm>
#include <climits>
#include <cstring>

namespace rd {
namespace {

constexpr int kXyShift = 16;
constexpr int64_t kXyOne = int64_t{1} << kXyShift;

// cv::clipLine(Size2l, Point2l&, Point2l&).
bool clip_line(int64_t width, int64_t height, IPoint& p1, IPoint& p2) {
  const int64_t right = width - 1, bottom = height - 1;
  if (width <= 0 || height <= 0) return false;
  int64_t &x1 = p1.x, &y1 = p1.y, &x2 = p2.x, &y2 = p2.y;
  int c1 = (x1 < 0) + (x1 > right) * 2 + (y1 < 0) * 4 + (y1 > bottom) * 8;
  int c2 = (x2 < 0) + (x2 > right) * 2 + (y2 < 0) * 4 + (y2 > bottom) * 8;
  if ((c1 & c2) == 0 && (c1 | c2) != 0) {
    int64_t a;
    if (c1 & 12) {
      a = c1 < 8 ? 0 : bottom;
      x1 += static_cast<int64_t>(static_cast<double>(a - y1) * (x2 - x1) / (y2 - y1));
      y1 = a;
      c1 = (x1 < 0) + (x1 > right) * 2;
    }
    if (c2 & 12) {
      a = c2 < 8 ? 0 : bottom;
      x2 += static_cast<int64_t>(static_cast<double>(a - y2) * (x2 - x1) / (y2 - y1));
      y2 = a;
      c2 = (x2 < 0) + (x2 > right) * 2;
    }
    if ((c1 & c2) == 0 && (c1 | c2) != 0) {
      if (c1) {
        a = c1 == 1 ? 0 : right;
        y1 += static_cast<int64_t>(static_cast<double>(a - x1) * (y2 - y1) / (x2 - x1));
        x1 = a;
        c1 = 0;
      }
      if (c2) {
        a = c2 == 1 ? 0 : right;
        y2 += static_cast<int64_t>(static_cast<double>(a - x2) * (y2 - y1) / (x2 - x1));
        x2 = a;
        c2 = 0;
      }
    }
  }
  return (c1 | c2) == 0;
}

// cv::clipLine(Size, Point&, Point&): the same on int coordinates.
bool clip_line_int(int w, int h, IPoint& p1, IPoint& p2) {
  IPoint a{static_cast<int>(p1.x), static_cast<int>(p1.y)};
  IPoint b{static_cast<int>(p2.x), static_cast<int>(p2.y)};
  const bool inside = clip_line(w, h, a, b);
  p1 = {static_cast<int>(a.x), static_cast<int>(a.y)};
  p2 = {static_cast<int>(b.x), static_cast<int>(b.y)};
  return inside;
}

// cv::Line with an 8-connected LineIterator(leftToRight = true).
void line8(uint8_t* img, int h, int w, IPoint pt1, IPoint pt2, uint8_t value) {
  pt1 = {static_cast<int>(pt1.x), static_cast<int>(pt1.y)};  // Point2l -> Point
  pt2 = {static_cast<int>(pt2.x), static_cast<int>(pt2.y)};
  if (static_cast<unsigned>(pt1.x) >= static_cast<unsigned>(w) ||
      static_cast<unsigned>(pt2.x) >= static_cast<unsigned>(w) ||
      static_cast<unsigned>(pt1.y) >= static_cast<unsigned>(h) ||
      static_cast<unsigned>(pt2.y) >= static_cast<unsigned>(h)) {
    if (!clip_line_int(w, h, pt1, pt2)) return;
  }
  int delta_x = 1, delta_y = 1;
  int dx = static_cast<int>(pt2.x - pt1.x), dy = static_cast<int>(pt2.y - pt1.y);
  if (dx < 0) {  // left to right
    dx = -dx;
    dy = -dy;
    pt1 = pt2;
  }
  if (dy < 0) {
    dy = -dy;
    delta_y = -1;
  }
  const bool vert = dy > dx;
  if (vert) {
    std::swap(dx, dy);
    std::swap(delta_x, delta_y);
  }
  int err = dx - (dy + dy);
  const int plus_delta = dx + dx, minus_delta = -(dy + dy);
  // Steps in (x, y): minus = along the major axis, plus = along the minor one.
  int minus_sx = delta_x, minus_sy = 0, plus_sx = 0, plus_sy = delta_y;
  if (vert) {
    std::swap(plus_sy, plus_sx);    // swap(plusStep, plusShift)
    std::swap(minus_sy, minus_sx);  // swap(minusStep, minusShift)
  }
  int64_t x = pt1.x, y = pt1.y;
  const int count = dx + 1;
  for (int i = 0; i < count; ++i) {
    img[y * w + x] = value;
    const int mask = err < 0 ? -1 : 0;
    err += minus_delta + (plus_delta & mask);
    x += minus_sx + (plus_sx & mask);
    y += minus_sy + (plus_sy & mask);
  }
}

struct PolyEdge {
  int y0 = 0, y1 = 0;
  int64_t x = 0, dx = 0;
  PolyEdge* next = nullptr;
};

void collect_poly_edges(uint8_t* img, int h, int w, const std::vector<IPoint>& v,
                        std::vector<PolyEdge>& edges, uint8_t value) {
  const int count = static_cast<int>(v.size());
  IPoint pt0 = v[count - 1], pt1;
  pt0.x = pt0.x * kXyOne;  // OpenCV: << XY_SHIFT (UB for negative x in C++17); shift 0, offset 0: delta = 0
  for (int i = 0; i < count; ++i, pt0 = pt1) {
    pt1 = v[i];
    pt1.x = pt1.x * kXyOne;
    IPoint t0, t1;
    t0.y = pt0.y, t1.y = pt1.y;
    t0.x = (pt0.x + (kXyOne >> 1)) >> kXyShift;
    t1.x = (pt1.x + (kXyOne >> 1)) >> kXyShift;
    line8(img, h, w, t0, t1, value);
    // OpenCV 4.6 builds the edge from the UNCLIPPED vertices (later versions
    // re-derive it from the clipped outline, which moves a few pixels of
    // polygons that leave the image: fixture rs_train_0003 tells them apart).
    if (pt0.y == pt1.y) continue;
    PolyEdge edge;
    edge.dx = (pt1.x - pt0.x) / (pt1.y - pt0.y);
    if (pt0.y < pt1.y) {
      edge.y0 = static_cast<int>(pt0.y), edge.y1 = static_cast<int>(pt1.y);
      edge.x = pt0.x;
    } else {
      edge.y0 = static_cast<int>(pt1.y), edge.y1 = static_cast<int>(pt0.y);
      edge.x = pt1.x;
    }
    edges.push_back(edge);
  }
}

void hline(uint8_t* row, int64_t xl, int64_t xr, uint8_t value) {
  if (xr >= xl) std::memset(row + xl, value, static_cast<size_t>(xr - xl + 1));
}

void fill_edge_collection(uint8_t* img, int h, int w, std::vector<PolyEdge>& edges,
                          uint8_t value) {
  const int total = static_cast<int>(edges.size());
  if (total < 2) return;
  int y_max = INT_MIN, y_min = INT_MAX;
  int64_t x_max = -1, x_min = INT64_MAX;  // as the reference's 0xFFFF... / 0x7FFF...
  const int64_t delta = kXyOne - 1;
  for (const PolyEdge& e1 : edges) {
    const int64_t x1 = e1.x + (e1.y1 - e1.y0) * e1.dx;
    y_min = std::min(y_min, e1.y0);
    y_max = std::max(y_max, e1.y1);
    x_min = std::min(x_min, e1.x);
    x_max = std::max(x_max, e1.x);
    x_min = std::min(x_min, x1);
    x_max = std::max(x_max, x1);
  }
  if (y_max < 0 || y_min >= h || x_max < 0 || x_min >= (static_cast<int64_t>(w) << kXyShift))
    return;
  std::sort(edges.begin(), edges.end(), [](const PolyEdge& e1, const PolyEdge& e2) {
    return e1.y0 - e2.y0 ? e1.y0 < e2.y0 : e1.x - e2.x ? e1.x < e2.x : e1.dx < e2.dx;
  });
  PolyEdge tmp;
  tmp.y0 = INT_MAX;
  edges.push_back(tmp);  // no more insertions: pointers stay valid
  int i = 0;
  tmp.next = nullptr;
  PolyEdge* e = &edges[i];
  y_max = std::min(y_max, h);
  for (int y = e->y0; y < y_max; ++y) {
    PolyEdge *last, *prelast, *keep_prelast;
    int draw = 0;
    const bool clipline = y < 0;
    prelast = &tmp;
    last = tmp.next;
    while (last || e->y0 == y) {
      if (last && last->y1 == y) {  // exclude an edge whose lower end is reached
        prelast->next = last->next;
        last = last->next;
        continue;
      }
      keep_prelast = prelast;
      if (last && (e->y0 > y || last->x < e->x)) {
        prelast = last;
        last = last->next;
      } else if (i < total) {  // insert a new edge into the active list
        prelast->next = e;
        e->next = last;
        prelast = e;
        e = &edges[++i];
      } else {
        break;
      }
      if (draw) {
        if (!clipline) {
          int64_t x1, x2;
          if (keep_prelast->x > prelast->x) {
            x1 = (prelast->x + delta) >> kXyShift;
            x2 = keep_prelast->x >> kXyShift;
          } else {
            x1 = (keep_prelast->x + delta) >> kXyShift;
            x2 = prelast->x >> kXyShift;
          }
          x1 = static_cast<int>(x1), x2 = static_cast<int>(x2);
          if (x1 < w && x2 >= 0) {
            if (x1 < 0) x1 = 0;
            if (x2 >= w) x2 = w - 1;
            hline(img + static_cast<int64_t>(y) * w, x1, x2, value);
          }
        }
        keep_prelast->x += keep_prelast->dx;
        prelast->x += prelast->dx;
      }
      draw ^= 1;
    }
    // sort the active edges by x (bubble sort, as the reference)
    keep_prelast = nullptr;
    do {
      prelast = &tmp;
      last = tmp.next;
      PolyEdge* last_exchange = nullptr;
      while (last != keep_prelast && last->next != nullptr) {
        PolyEdge* te = last->next;
        if (last->x > te->x) {
          prelast->next = te;
          last->next = te->next;
          te->next = last;
          prelast = te;
          last_exchange = prelast;
        } else {
          prelast = last;
          last = te;
        }
      }
      if (last_exchange == nullptr) break;
      keep_prelast = last_exchange;
    } while (keep_prelast != tmp.next && keep_prelast != &tmp);
  }
}

}  // namespace

void cv_polylines_closed(uint8_t* img, int h, int w, const std::vector<IPoint>& pts, uint8_t value) {
  if (pts.empty()) return;
  IPoint p0 = pts.back();
  for (const IPoint& p : pts) {
    line8(img, h, w, p0, p, value);  // ThickLine, thickness 1, shift 0
    p0 = p;
  }
}

void cv_fill_poly(uint8_t* img, int h, int w, const std::vector<IPoint>& pts, uint8_t value) {
  if (pts.empty()) return;
  std::vector<PolyEdge> edges;
  edges.reserve(pts.size() + 1);
  collect_poly_edges(img, h, w, pts, edges, value);
  fill_edge_collection(img, h, w, edges, value);
}

}  // namespace rd
