#include "data/pil_resample.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "common/error.h"

namespace rd {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

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

// Horizontal pass of rows [y0, y1) of the interleaved input into the planar
// temp (row y goes to temp row y - y0), output columns cols[0..n).
void horizontal_scalar(const RgbImage& in, int y0, int y1, const PilCoefficients& co, int col0,
                       int ncols, PlanarImage& tmp) {
  const int C = in.channels;
  const size_t plane = size_t(tmp.height) * tmp.width;
  for (int y = y0; y < y1; ++y) {
    const uint8_t* src = in.row(y);
    uint8_t* dst = tmp.pixels.data() + size_t(y - y0) * tmp.width;
    for (int i = 0; i < ncols; ++i) {
      const int xx = col0 + i;
      const int32_t* k = co.weights.data() + co.offset[xx];
      const uint8_t* s = src + size_t(co.first[xx]) * C;
      const int n = co.count[xx];
      int32_t ss[4] = {kHalf, kHalf, kHalf, kHalf};
      for (int t = 0; t < n; ++t)
        for (int c = 0; c < C; ++c) ss[c] += int32_t(s[t * C + c]) * k[t];
      for (int c = 0; c < C; ++c) dst[c * plane + i] = clip8(ss[c]);
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

// ---- AVX2 kernels (same integer arithmetic) --------------------------------

__attribute__((target("avx2"))) void horizontal_avx2_rgb(const RgbImage& in, int y0, int y1,
                                                        const PilCoefficients& co, int col0,
                                                        int ncols, PlanarImage& tmp) {
  // Each tap loads 4 bytes (one pixel + the next pixel's first byte, which gets
  // a lane of its own and is discarded). The very last pixel of the buffer has
  // no byte after it: that row is read from a padded copy.
  const int W = in.width;
  const size_t plane = size_t(tmp.height) * tmp.width;
  std::vector<uint8_t> last_row;
  for (int y = y0; y < y1; ++y) {
    const uint8_t* src = in.row(y);
    if (y == in.height - 1) {
      last_row.assign(src, src + size_t(W) * 3);
      last_row.push_back(0);
      src = last_row.data();
    }
    uint8_t* d0 = tmp.pixels.data() + size_t(y - y0) * tmp.width;
    uint8_t* d1 = d0 + plane;
    uint8_t* d2 = d1 + plane;
    for (int i = 0; i < ncols; ++i) {
      const int xx = col0 + i;
      const int32_t* k = co.weights.data() + co.offset[xx];
      const uint8_t* s = src + size_t(co.first[xx]) * 3;
      const int n = co.count[xx];
      __m128i acc = _mm_set1_epi32(kHalf);
      for (int t = 0; t < n; ++t) {
        int32_t px;
        std::memcpy(&px, s + t * 3, 4);
        __m128i v = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(px));
        acc = _mm_add_epi32(acc, _mm_mullo_epi32(v, _mm_set1_epi32(k[t])));
      }
      acc = _mm_srai_epi32(acc, kPrecisionBits);
      __m128i p = _mm_packus_epi16(_mm_packs_epi32(acc, acc), acc);
      const uint32_t rgb = uint32_t(_mm_cvtsi128_si32(p));
      d0[i] = uint8_t(rgb);
      d1[i] = uint8_t(rgb >> 8);
      d2[i] = uint8_t(rgb >> 16);
    }
  }
}

__attribute__((target("avx2"))) void vertical_row_avx2(const uint8_t* src, size_t stride,
                                                      const int32_t* k, int n, int len,
                                                      uint8_t* out) {
  int e = 0;
  for (; e + 16 <= len; e += 16) {
    __m256i a0 = _mm256_set1_epi32(kHalf), a1 = a0;
    for (int t = 0; t < n; ++t) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + t * stride + e));
      __m256i kk = _mm256_set1_epi32(k[t]);
      a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(v), kk));
      a1 = _mm256_add_epi32(
          a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)), kk));
    }
    a0 = _mm256_srai_epi32(a0, kPrecisionBits);
    a1 = _mm256_srai_epi32(a1, kPrecisionBits);
    __m128i p0 = _mm_packs_epi32(_mm256_castsi256_si128(a0), _mm256_extracti128_si256(a0, 1));
    __m128i p1 = _mm_packs_epi32(_mm256_castsi256_si128(a1), _mm256_extracti128_si256(a1, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + e), _mm_packus_epi16(p0, p1));
  }
  if (e < len) vertical_row_scalar(src + e, stride, k, n, len - e, out + e);
}

void horizontal(const RgbImage& in, int y0, int y1, const PilCoefficients& co, int col0,
                int ncols, PlanarImage& tmp) {
  if (in.channels == 3 && use_simd())
    horizontal_avx2_rgb(in, y0, y1, co, col0, ncols, tmp);
  else
    horizontal_scalar(in, y0, y1, co, col0, ncols, tmp);
}

void vertical_row(const uint8_t* src, size_t stride, const int32_t* k, int n, int len,
                  uint8_t* out) {
  if (use_simd())
    vertical_row_avx2(src, stride, k, n, len, out);
  else
    vertical_row_scalar(src, stride, k, n, len, out);
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
    std::vector<int32_t> q(xmax);
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

PlanarImage pil_resize_region(const RgbImage& in, int out_h, int out_w, PilFilter filter,
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

  // Input rows the vertical pass reads for the region's rows.
  PilCoefficients vco;
  int row0 = r.top, row1 = r.top + r.height;
  if (need_v) {
    vco = pil_coefficients(in.height, out_h, filter);
    row0 = in.height;
    row1 = 0;
    for (int y = r.top; y < r.top + r.height; ++y) {
      row0 = std::min(row0, vco.first[y]);
      row1 = std::max(row1, vco.first[y] + vco.count[y]);
    }
    if (row1 <= row0) row1 = row0 = 0;  // all-zero weights: nothing is read
  }

  // Horizontal pass (or a plain copy of the region's columns) into planar rows.
  PlanarImage tmp(row1 - row0, r.width, C);
  if (need_h) {
    PilCoefficients hco = pil_coefficients(in.width, out_w, filter);
    horizontal(in, row0, row1, hco, r.left, r.width, tmp);
  } else {
    const size_t plane = size_t(tmp.height) * tmp.width;
    for (int y = row0; y < row1; ++y) {
      const uint8_t* src = in.row(y) + size_t(r.left) * C;
      for (int c = 0; c < C; ++c) {
        uint8_t* dst = tmp.pixels.data() + c * plane + size_t(y - row0) * r.width;
        for (int i = 0; i < r.width; ++i) dst[i] = src[i * C + c];
      }
    }
  }
  if (!need_v) return tmp;

  PlanarImage out(r.height, r.width, C);
  for (int c = 0; c < C; ++c) {
    const uint8_t* src = tmp.plane(c);
    uint8_t* dst = out.plane(c);
    for (int y = r.top; y < r.top + r.height; ++y) {
      const int n = vco.count[y];
      const uint8_t* rows = src + size_t(vco.first[y] - row0) * r.width;
      vertical_row(n > 0 ? rows : src, r.width, vco.weights.data() + vco.offset[y], n, r.width,
                   dst + size_t(y - r.top) * r.width);
    }
  }
  return out;
}

PlanarImage pil_resize(const RgbImage& in, int out_h, int out_w, PilFilter filter) {
  return pil_resize_region(in, out_h, out_w, filter, ResizeRegion{0, 0, out_h, out_w});
}

namespace detail {
bool pil_simd_available() { return cpu_has_avx2(); }
void set_pil_simd_enabled(bool enabled) { g_simd.store(enabled && cpu_has_avx2() ? 1 : 0); }
bool pil_simd_enabled() { return use_simd(); }
}  // namespace detail

}  // namespace rd
