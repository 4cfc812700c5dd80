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

// ---- AVX2 kernels (same integer arithmetic) --------------------------------

// Horizontal pass for RGB, two output pixels per 256-bit vector (one per
// 128-bit lane), two taps per step with vpmaddwd. A 22-bit weight k is split
// as k = kh * 2^11 + kl (kl = k & 2047, kh = k >> 11, both fit int16), so
//   sum v k = (sum v kh) << 11 + sum v kl
// exactly in int32 (the magnitudes are those of Pillow's own int32 sums).
// One step loads 8 bytes at pixel x (R G B R G B R G) and shuffles them to
// the words (R_x, R_x+1, G_x, G_x+1, B_x, B_x+1, 0, 0); vpmaddwd with
// (k_t, k_t+1) x 3 gives the three channel sums of taps t and t + 1.
struct HorizontalPlan {
  int pairs = 0;                 // output pixel pairs
  std::vector<int> step_begin;   // pairs + 1 entries
  std::vector<int32_t> src;      // per step: byte offsets of the loads for pixels a and b
  std::vector<int16_t> kh, kl;   // per step: 16 words (lane a then lane b)
  // Per pair: when pixel b's taps start at most 3 pixels after pixel a's,
  // one 16-byte load serves both lanes, with this vpshufb mask (32 bytes).
  std::vector<uint8_t> near;
  std::vector<int8_t> mask;
};

HorizontalPlan plan_horizontal(const PilCoefficients& co, int in_width, int col0, int ncols) {
  HorizontalPlan plan;
  plan.pairs = (ncols + 1) / 2;
  plan.step_begin.reserve(plan.pairs + 1);
  for (int j = 0; j < plan.pairs; ++j) {
    plan.step_begin.push_back(int(plan.src.size() / 2));
    const int a = col0 + 2 * j, b = 2 * j + 1 < ncols ? a + 1 : a;
    const int steps = std::max(co.count[a] + 1, co.count[b] + 1) / 2;
    // Near pair: one 16-byte window per step at pixel first_a + 2p; lane a
    // reads its bytes 0..5, lane b bytes 3d..3d+5 (d = first_b - first_a).
    // The window starts inside the row: first_a + 2p <= first_b + 2p, and one
    // of the two lanes has a tap there.
    const int d = co.first[b] - co.first[a];
    const bool near = co.count[a] > 0 && co.count[b] > 0 && d >= 0 && d <= 3;
    plan.near.push_back(near);
    static const int8_t kLane[16] = {0, -128, 3, -128, 1, -128, 4, -128,
                                     2, -128, 5, -128, -128, -128, -128, -128};
    for (int lane = 0; lane < 2; ++lane)
      for (int i = 0; i < 16; ++i)
        plan.mask.push_back(kLane[i] < 0 || !near ? kLane[i] : int8_t(kLane[i] + 3 * d * lane));
    for (int p = 0; p < steps; ++p)
      for (int o : {a, b}) {
        const int t = 2 * p, n = co.count[o];
        const int32_t* w = co.weights.data() + co.offset[o];
        const int32_t k0 = t < n ? w[t] : 0, k1 = t + 1 < n ? w[t + 1] : 0;
        // Steps past the pixel's own weights load a valid pixel and weigh it 0.
        const int px = near ? co.first[a] + t
                            : (t < n ? co.first[o] + t : std::min(co.first[o], in_width - 1));
        plan.src.push_back(3 * px);
        for (int c = 0; c < 3; ++c) {
          plan.kh.push_back(int16_t(k0 >> 11));
          plan.kh.push_back(int16_t(k1 >> 11));
          plan.kl.push_back(int16_t(k0 & 2047));
          plan.kl.push_back(int16_t(k1 & 2047));
        }
        plan.kh.insert(plan.kh.end(), 2, 0);
        plan.kl.insert(plan.kl.end(), 2, 0);
      }
  }
  plan.step_begin.push_back(int(plan.src.size() / 2));
  return plan;
}

__attribute__((target("avx2"))) void horizontal_avx2_rgb(const RgbImage& in, int y0, int y1,
                                                        const HorizontalPlan& plan, int ncols,
                                                        uint8_t* dst) {
  // A load reads up to 13 bytes past its row: past the end of the buffer on
  // the last row, which is read from a padded copy (other rows need width >= 5).
  thread_local PixelBuffer last_row;
  const __m256i shuffle = _mm256_setr_epi8(  // both lanes: (R, R', G, G', B, B', 0, 0) words
      0, -128, 3, -128, 1, -128, 4, -128, 2, -128, 5, -128, -128, -128, -128, -128,  //
      0, -128, 3, -128, 1, -128, 4, -128, 2, -128, 5, -128, -128, -128, -128, -128);
  const __m256i half = _mm256_set1_epi32(kHalf);
  const size_t out_row = size_t(ncols) * 3;
  const int16_t* kh = plan.kh.data();
  const int16_t* kl = plan.kl.data();
  for (int y = y0; y < y1; ++y) {
    const uint8_t* src = in.row(y);
    if (y == in.height - 1) {
      last_row.resize(in.row_bytes() + 16);
      std::memcpy(last_row.data(), src, in.row_bytes());
      src = last_row.data();
    }
    uint8_t* d = dst + size_t(y - y0) * out_row;
    for (int j = 0; j < plan.pairs; ++j) {
      __m256i ah = _mm256_setzero_si256(), al = _mm256_setzero_si256();
      const int s0 = plan.step_begin[j], s1 = plan.step_begin[j + 1];
      if (plan.near[j]) {
        const __m256i m =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plan.mask.data() + 32 * size_t(j)));
        for (int s = s0; s < s1; ++s) {
          const __m256i v = _mm256_shuffle_epi8(
              _mm256_broadcastsi128_si256(
                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + plan.src[2 * s]))),
              m);
          ah = _mm256_add_epi32(ah, _mm256_madd_epi16(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kh + 16 * size_t(s)))));
          al = _mm256_add_epi32(al, _mm256_madd_epi16(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kl + 16 * size_t(s)))));
        }
      } else {
        for (int s = s0; s < s1; ++s) {
          const __m128i va =
              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + plan.src[2 * s]));
          const __m128i vb =
              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + plan.src[2 * s + 1]));
          const __m256i v = _mm256_shuffle_epi8(
              _mm256_inserti128_si256(_mm256_castsi128_si256(va), vb, 1), shuffle);
          ah = _mm256_add_epi32(ah, _mm256_madd_epi16(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kh + 16 * size_t(s)))));
          al = _mm256_add_epi32(al, _mm256_madd_epi16(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kl + 16 * size_t(s)))));
        }
      }
      __m256i sum = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(ah, 11), al), half);
      sum = _mm256_srai_epi32(sum, kPrecisionBits);
      const __m256i packed = _mm256_packus_epi16(_mm256_packs_epi32(sum, sum), sum);
      const __m128i pa = _mm256_castsi256_si128(packed);
      const __m128i pb = _mm256_extracti128_si256(packed, 1);
      // 4-byte stores overlap the next pixel, which is written after; the
      // row's last pixel gets exactly 3 bytes.
      uint8_t* da = d + 6 * size_t(j);
      if (2 * j + 2 < ncols) {
        _mm_storeu_si32(da, pa);
        _mm_storeu_si32(da + 3, pb);
      } else {
        const uint32_t a = uint32_t(_mm_cvtsi128_si32(pa)), b = uint32_t(_mm_cvtsi128_si32(pb));
        if (2 * j + 1 < ncols) {
          _mm_storeu_si32(da, pa);
          std::memcpy(da + 3, &b, 3);
        } else {
          std::memcpy(da, &a, 3);
        }
      }
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
                int ncols, uint8_t* dst) {
  if (in.channels == 3 && in.width >= 8 && use_simd())  // narrow rows: loads would overrun
    horizontal_avx2_rgb(in, y0, y1, plan_horizontal(co, in.width, col0, ncols), ncols, dst);
  else
    horizontal_scalar(in, y0, y1, co, col0, ncols, dst);
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
  PilCoefficients hco;
  if (need_h) hco = pil_coefficients(in.width, out_w, filter);
  if (!need_v) {
    horizontal(in, r.top, r.top + r.height, hco, r.left, r.width, out.pixels.data());
    return out;
  }

  // Input rows the vertical pass reads for the region's rows.
  const PilCoefficients vco = pil_coefficients(in.height, out_h, filter);
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
    horizontal(in, row0, row1, hco, r.left, r.width, tmp.data());
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
}  // namespace detail

}  // namespace rd
