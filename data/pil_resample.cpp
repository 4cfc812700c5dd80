#include "data/pil_resample.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "data/pil_resample_avx2.h"

namespace rd {

namespace {

using pil_avx2::kHalf;
using pil_avx2::kPrecisionBits;

// Pillow's filters, in double as in Resample.c. fp-contract=off: an FMA would
// change the last bits of a weight (Pillow is built for baseline x86-64).
__attribute__((optimize("fp-contract=off"))) double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

__attribute__((optimize("fp-contract=off"))) double bicubic_filter(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

inline uint8_t clip8(int32_t ss) {
  int32_t v = ss >> kPrecisionBits;  // arithmetic shift, as Pillow's clip8
  return uint8_t(v < 0 ? 0 : (v > 255 ? 255 : v));
}

std::atomic<int> g_simd{-1};  // -1: not decided yet

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

bool use_simd() {
  int s = g_simd.load(std::memory_order_relaxed);
  if (s < 0) {
    s = cpu_has_avx2() ? 1 : 0;
    g_simd.store(s, std::memory_order_relaxed);
  }
  return s == 1;
}

// ---- scalar kernels ------------------------------------------------------

// Horizontal pass of rows [y0, y1) of the interleaved input, output columns
// [col0, col0 + ncols), into dst (interleaved rows of ncols pixels).
void horizontal_scalar(const RgbImage& in, int y0, int y1, const PilCoefficients& co, int col0,
                       int ncols, uint8_t* dst) {
  const int C = in.channels;
  for (int y = y0; y < y1; ++y) {
    const uint8_t* src = in.row(y);
    uint8_t* d = dst + size_t(y - y0) * ncols * C;
    for (int i = 0; i < ncols; ++i) {
      const int xx = col0 + i;
      const int32_t* k = co.weights.data() + co.offset[xx];
      const uint8_t* s = src + size_t(co.first[xx]) * C;
      const int n = co.count[xx];
      int32_t ss[4] = {kHalf, kHalf, kHalf, kHalf};
      for (int t = 0; t < n; ++t)
        for (int c = 0; c < C; ++c) ss[c] += int32_t(s[t * C + c]) * k[t];
      for (int c = 0; c < C; ++c) d[i * C + c] = clip8(ss[c]);
    }
  }
}

// One output row of the vertical pass: out[e] = clip8(half + sum_t rows[t][e] k[t]).
void vertical_row_scalar(const uint8_t* src, size_t stride, const int32_t* k, int n, int len,
                         uint8_t* out) {
  for (int e = 0; e < len; ++e) {
    int32_t ss = kHalf;
    for (int t = 0; t < n; ++t) ss += int32_t(src[t * stride + e]) * k[t];
    out[e] = clip8(ss);
  }
}

void vertical_row(const uint8_t* src, size_t stride, const int32_t* k, int n, int len,
                  uint8_t* out) {
  const int done = use_simd() ? pil_avx2::vertical_row(src, stride, k, n, len, out) : 0;
  if (done < len) vertical_row_scalar(src + done, stride, k, n, len - done, out + done);
}

}  // namespace

__attribute__((optimize("fp-contract=off"))) PilCoefficients pil_coefficients(int in_size,
                                                                             int out_size,
                                                                             PilFilter filter) {
  READ_CHECK(in_size > 0 && out_size > 0, "pil_coefficients: sizes must be positive, got ",
             in_size, " -> ", out_size);
  double (*fn)(double) = filter == PilFilter::kBilinear ? bilinear_filter : bicubic_filter;
  const double filter_support = filter == PilFilter::kBilinear ? 1.0 : 2.0;
  // precompute_coeffs (box = (0, in_size), float in0/in1 as in Pillow).
  const float in0 = 0.0f, in1 = float(in_size);
  double filterscale, scale;
  filterscale = scale = double(in1 - in0) / out_size;
  if (filterscale < 1.0) filterscale = 1.0;
  const double support = filter_support * filterscale;
  const int ksize = int(std::ceil(support)) * 2 + 1;

  PilCoefficients co;
  co.first.resize(out_size);
  co.count.resize(out_size);
  co.offset.resize(out_size);
  co.weights.reserve(size_t(out_size) * ksize);
  std::vector<double> k(ksize);
  std::vector<int32_t> q;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      const double w = fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    // normalize_coeffs_8bpc: round half away from zero to 22-bit fixed point.
    q.resize(xmax);
    for (int x = 0; x < xmax; ++x)
      q[x] = k[x] < 0 ? int32_t(-0.5 + k[x] * (1 << kPrecisionBits))
                      : int32_t(0.5 + k[x] * (1 << kPrecisionBits));
    int lo = 0, hi = xmax;
    while (lo < hi && q[lo] == 0) ++lo;
    while (hi > lo && q[hi - 1] == 0) --hi;
    co.first[xx] = xmin + lo;
    co.count[xx] = hi - lo;
    co.offset[xx] = int(co.weights.size());
    co.weights.insert(co.weights.end(), q.begin() + lo, q.begin() + hi);
  }
  return co;
}

namespace {

// The coefficients of one axis of a resize and, for the horizontal pass, the
// byte kernel's plan. Kept per thread for the last few sizes: the loader
// resizes many images of the same few sizes, and building them costs about
// a quarter of a horizontal pass (0.03 ms for SAM's 640 -> 1024).
struct AxisPlan {
  int in_size = -1, out_size = -1;
  PilFilter filter = PilFilter::kBilinear;
  PilCoefficients co;
  uint64_t last_use = 0;
  // Horizontal pass: the byte plan for these channels / output columns
  // (tried once; byte_plan_ok false when its windows do not fit).
  int channels = -1, col0 = -1, ncols = -1;
  bool byte_plan_ok = false;
  pil_avx2::ByteWindowPlan byte_plan;
};

// The cached plan, built on a miss in the least recently used slot (never
// the one returned by the previous call, so two references stay valid).
AxisPlan& axis_plan(int in_size, int out_size, PilFilter filter) {
  thread_local std::array<AxisPlan, 6> cache;
  thread_local uint64_t clock = 0;
  AxisPlan* victim = &cache[0];
  for (AxisPlan& e : cache) {
    if (e.in_size == in_size && e.out_size == out_size && e.filter == filter) {
      e.last_use = ++clock;
      return e;
    }
    if (e.last_use < victim->last_use) victim = &e;
  }
  *victim = AxisPlan();
  victim->co = pil_coefficients(in_size, out_size, filter);
  victim->in_size = in_size, victim->out_size = out_size, victim->filter = filter;
  victim->last_use = ++clock;
  return *victim;
}

// The kernel the horizontal pass uses for output columns [col0, col0 + ncols)
// of `channels`-channel rows: the byte kernel when its windows fit, else
// the RGB pair kernel, else scalar.
detail::PilHorizontalKernel choose_horizontal(AxisPlan& h, int channels, int col0, int ncols) {
  using K = detail::PilHorizontalKernel;
  if (!use_simd()) return K::kScalar;
  if (h.channels != channels || h.col0 != col0 || h.ncols != ncols) {
    h.byte_plan_ok = pil_avx2::build_byte_window_plan(h.co, channels, h.in_size, col0, ncols,
                                                      &h.byte_plan);
    h.channels = channels, h.col0 = col0, h.ncols = ncols;
  }
  if (h.byte_plan_ok) return h.byte_plan.shared_window ? K::kBytesSharedWindow : K::kBytes;
  if (channels == 3 && h.in_size >= 8) return K::kRgbPairs;  // narrower: loads would overrun
  return K::kScalar;
}

void horizontal(const RgbImage& in, int y0, int y1, AxisPlan& h, int col0, int ncols,
                uint8_t* dst) {
  using K = detail::PilHorizontalKernel;
  switch (choose_horizontal(h, in.channels, col0, ncols)) {
    case K::kBytes:
    case K::kBytesSharedWindow:
      return pil_avx2::horizontal_bytes(in, y0, y1, h.byte_plan, dst);
    case K::kRgbPairs:
      return pil_avx2::horizontal_rgb_pairs(in, y0, y1, h.co, col0, ncols, dst);
    case K::kScalar:
      return horizontal_scalar(in, y0, y1, h.co, col0, ncols, dst);
  }
}

}  // namespace

RgbImage pil_resize_region(const RgbImage& in, int out_h, int out_w, PilFilter filter,
                           const ResizeRegion& r) {
  const int C = in.channels;
  READ_CHECK(in.height > 0 && in.width > 0 && C >= 1 && C <= 4,
             "pil_resize: bad input image ", in.height, "x", in.width, "x", C);
  READ_CHECK(in.pixels.size() == size_t(in.height) * in.width * C,
             "pil_resize: pixel buffer size does not match ", in.height, "x", in.width, "x", C);
  READ_CHECK(out_h > 0 && out_w > 0, "pil_resize: bad output size ", out_h, "x", out_w);
  READ_CHECK(r.top >= 0 && r.left >= 0 && r.height > 0 && r.width > 0 &&
                 r.top + r.height <= out_h && r.left + r.width <= out_w,
             "pil_resize: region (", r.top, ", ", r.left, ", ", r.height, "x", r.width,
             ") outside the ", out_h, "x", out_w, " output");
  const bool need_h = out_w != in.width;
  const bool need_v = out_h != in.height;
  RgbImage out(r.height, r.width, C);
  const size_t out_row = out.row_bytes();

  if (!need_h && !need_v) {  // Pillow copies
    for (int y = 0; y < r.height; ++y)
      std::memcpy(out.row(y), in.row(r.top + y) + size_t(r.left) * C, out_row);
    return out;
  }
  if (!need_v) {
    horizontal(in, r.top, r.top + r.height, axis_plan(in.width, out_w, filter), r.left, r.width,
               out.pixels.data());
    return out;
  }

  // Input rows the vertical pass reads for the region's rows.
  const PilCoefficients& vco = axis_plan(in.height, out_h, filter).co;
  int row0 = in.height, row1 = 0;
  for (int y = r.top; y < r.top + r.height; ++y) {
    if (vco.count[y] == 0) continue;
    row0 = std::min(row0, vco.first[y]);
    row1 = std::max(row1, vco.first[y] + vco.count[y]);
  }
  if (row1 <= row0) row0 = row1 = 0;  // all weights zero: nothing is read

  // The vertical pass reads the horizontal pass's rows, or the input's.
  const uint8_t* vsrc;
  size_t vstride;
  int vrow0;
  thread_local PixelBuffer tmp;  // per thread, reused (no allocation per image)
  if (need_h) {
    tmp.resize(size_t(row1 - row0) * out_row);
    horizontal(in, row0, row1, axis_plan(in.width, out_w, filter), r.left, r.width, tmp.data());
    vsrc = tmp.data(), vstride = out_row, vrow0 = row0;
  } else {
    vsrc = in.pixels.data() + size_t(r.left) * C, vstride = in.row_bytes(), vrow0 = 0;
  }
  for (int y = r.top; y < r.top + r.height; ++y) {
    const int n = vco.count[y];
    const uint8_t* rows = n > 0 ? vsrc + size_t(vco.first[y] - vrow0) * vstride : vsrc;
    vertical_row(rows, vstride, vco.weights.data() + vco.offset[y], n, int(out_row),
                 out.row(y - r.top));
  }
  return out;
}

RgbImage pil_resize(const RgbImage& in, int out_h, int out_w, PilFilter filter) {
  return pil_resize_region(in, out_h, out_w, filter, ResizeRegion{0, 0, out_h, out_w});
}

namespace detail {
bool pil_simd_available() { return cpu_has_avx2(); }
void set_pil_simd_enabled(bool enabled) { g_simd.store(enabled && cpu_has_avx2() ? 1 : 0); }
bool pil_simd_enabled() { return use_simd(); }
PilHorizontalKernel pil_horizontal_kernel(int in_width, int out_width, PilFilter filter,
                                          int channels, int col0, int ncols) {
  return choose_horizontal(axis_plan(in_width, out_width, filter), channels, col0, ncols);
}
}  // namespace detail

}  // namespace rd
