#include "data/pil_resample_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

namespace rd {
namespace pil_avx2 {

namespace {

// 22-bit weights do not fit vpmaddwd's int16, so each is split as
// k = kh * 2^11 + kl (kl = k & 2047, kh = k >> 11, both fit int16) and
//   sum v k = (sum v kh) << 11 + sum v kl
// exactly in int32 (wrapping arithmetic; the true sum is Pillow's own int32).
int16_t weight_high(int32_t k) { return int16_t(k >> 11); }
int16_t weight_low(int32_t k) { return int16_t(k & 2047); }

__attribute__((target("avx2"))) inline __m256i finish_sum(__m256i high, __m256i low_plus_half) {
  return _mm256_srai_epi32(_mm256_add_epi32(_mm256_slli_epi32(high, 11), low_plus_half),
                           kPrecisionBits);
}

__attribute__((target("avx2"))) inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

}  // namespace

// ---- byte kernel -------------------------------------------------------------
//
// Every output byte (pixel x channel) is its own sum: byte b of an output row
// is pixel x = col0 + b / C, channel c = b % C, and its tap t reads input byte
// (first[x] + t) * C + c. A 256-bit vector holds 8 consecutive output bytes
// as int32 sums, 4 per 128-bit lane. Step p adds taps 2p and 2p + 1: each lane
// loads a 16-byte window of the input row holding all 8 bytes those taps read
// (4 output bytes x 2 taps), vpshufb spreads them to 16 zero-extended words
// (output byte i's taps in words 2i, 2i + 1; a tap past the pixel's count
// gets a zero byte), and two vpmaddwd with the weights' high and low parts
// add v_2p k_2p + v_2p+1 k_2p+1 to each byte's int32 sums: the same integer
// sum as Pillow's, in any order (exact int32 additions). A window start is
// clamped to row_bytes - 16, so no load leaves its row. When both lanes' taps
// fit one window, one broadcast load serves the vector (shared_window).
// Downscales up to about 4x fit (a lane's 4 bytes span 2 pixels: 3 channels
// need first[x + 1] - first[x] <= 4), upscales always do.
// Three rows share each step's mask and weights; four vectors (32 output
// bytes) are packed with saturation (Pillow's clip to 0..255 after >> 22)
// and stored together.

namespace {

// Output byte b's taps: tap t reads input byte first_byte + t * channels.
struct ByteTaps {
  int first_byte = 0, count = 0;
  const int32_t* weights = nullptr;
};

// A window start for input bytes [first, last] (last < 0: none), or -1 when
// they span more than 16 bytes.
int window_start(int first, int last, int row_bytes) {
  if (last < 0) return 0;  // nothing read: any in-row window
  const int start = std::min(first, row_bytes - 16);
  return last - start < 16 ? start : -1;
}

// Fills step p of the vector of output bytes `out[0..8)` with one window per
// lane; false when a lane's taps do not fit. *shared: the start of a window
// holding both lanes' taps, or -1.
bool fill_step(const ByteTaps* out, int channels, int row_bytes, int p, ByteTapStep* step,
               int32_t* windows, int* shared) {
  int byte[16];  // input byte of tap 2p + j of lane l's byte i at 8l + 2i + j; -1: none
  int first[2], last[2];
  for (int lane = 0; lane < 2; ++lane) {
    int lo = row_bytes, hi = -1;
    for (int k = 8 * lane; k < 8 * lane + 8; ++k) {
      const ByteTaps& o = out[k / 2];
      const int t = 2 * p + k % 2;
      const bool used = t < o.count;
      const int32_t maybe_weight = o.weights[t];  // readable: see build_byte_window_plan
      const int32_t weight = used ? maybe_weight : 0;
      byte[k] = used ? o.first_byte + t * channels : -1;
      step->kh[k] = weight_high(weight);
      step->kl[k] = weight_low(weight);
      lo = std::min(lo, used ? byte[k] : row_bytes);
      hi = std::max(hi, byte[k]);
    }
    first[lane] = lo, last[lane] = hi;
    windows[lane] = window_start(lo, hi, row_bytes);
    if (windows[lane] < 0) return false;
  }
  *shared = window_start(std::min(first[0], first[1]), std::max(last[0], last[1]), row_bytes);
  for (int k = 0; k < 16; ++k) {
    step->mask[2 * k] = byte[k] >= 0 ? int8_t(byte[k] - windows[k / 8]) : int8_t(-128);
    step->mask[2 * k + 1] = -128;
  }
  return true;
}

// Re-bases every step on its shared window (one load per vector).
void share_windows(const std::vector<int>& shared, ByteWindowPlan* plan) {
  for (size_t s = 0; s < plan->steps.size(); ++s) {
    int8_t* mask = plan->steps[s].mask;
    for (int k = 0; k < 16; ++k)
      if (mask[2 * k] >= 0)
        mask[2 * k] = int8_t(mask[2 * k] + plan->windows[2 * s + k / 8] - shared[s]);
    plan->windows[2 * s] = plan->windows[2 * s + 1] = shared[s];
  }
  plan->shared_window = true;
}

// Adds step s's products to kRows rows' sums (kFirst: sets them, low to
// products + 1 << 21, so the common one-step vector has no loop).
template <int kRows, bool kShared, bool kFirst>
__attribute__((target("avx2"), always_inline)) inline void add_step(
    const ByteWindowPlan& plan, int s, const uint8_t* const* src, __m256i* high, __m256i* low) {
  const ByteTapStep& step = plan.steps[s];
  __m256i mask = load256(step.mask), kh = load256(step.kh), kl = load256(step.kl);
  // Keep them in registers for all rows (GCC would reload them as operands).
  __asm__("" : "+x"(mask), "+x"(kh), "+x"(kl));
  const int32_t* window = plan.windows.data() + 2 * size_t(s);
  #pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
    const __m128i* w0 = reinterpret_cast<const __m128i*>(src[r] + window[0]);
    const __m256i bytes =
        kShared ? _mm256_broadcastsi128_si256(_mm_loadu_si128(w0))
                : _mm256_inserti128_si256(
                      _mm256_castsi128_si256(_mm_loadu_si128(w0)),
                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[r] + window[1])), 1);
    const __m256i words = _mm256_shuffle_epi8(bytes, mask);
    const __m256i ph = _mm256_madd_epi16(words, kh), pl = _mm256_madd_epi16(words, kl);
    high[r] = kFirst ? ph : _mm256_add_epi32(high[r], ph);
    low[r] = _mm256_add_epi32(kFirst ? _mm256_set1_epi32(kHalf) : low[r], pl);
  }
}

// The int32 results (sum >> 22) of vector v for kRows rows, which share each
// step's mask and weights.
template <int kRows, bool kShared>
__attribute__((target("avx2"), always_inline)) inline void vector_sums(
    const ByteWindowPlan& plan, int v, const uint8_t* const* src, __m256i* out) {
  const int s0 = plan.step_begin[v], s1 = plan.step_begin[v + 1];
  if (s0 == s1) {  // no taps (past the row's end): Pillow's clip8(1 << 21) = 0
    for (int r = 0; r < kRows; ++r) out[r] = _mm256_setzero_si256();
    return;
  }
  __m256i high[kRows], low[kRows];
  add_step<kRows, kShared, true>(plan, s0, src, high, low);
  for (int s = s0 + 1; s < s1; ++s) add_step<kRows, kShared, false>(plan, s, src, high, low);
  #pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) out[r] = finish_sum(high[r], low[r]);
}

// 32 output bytes from 4 vectors whose lanes hold bytes (0-3, 4-7), (8-11,
// 12-15), ...: the packs interleave the lanes, vpermd restores the order.
__attribute__((target("avx2"))) inline __m256i pack_32(__m256i v0, __m256i v1, __m256i v2,
                                                      __m256i v3) {
  const __m256i bytes =
      _mm256_packus_epi16(_mm256_packs_epi32(v0, v1), _mm256_packs_epi32(v2, v3));
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

template <int kRows, bool kShared>
__attribute__((target("avx2"))) void rows_bytes(const ByteWindowPlan& plan,
                                                const uint8_t* const* src, uint8_t* const* dst) {
  for (int v = 0; v < plan.vectors; v += 4) {
    __m256i sums[4][kRows];
    #pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) vector_sums<kRows, kShared>(plan, v + k, src, sums[k]);
    const int b = 8 * v, n = std::min(32, plan.out_bytes - b);
    #pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const __m256i out = pack_32(sums[0][r], sums[1][r], sums[2][r], sums[3][r]);
      if (n == 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[r] + b), out);
      } else {
        alignas(32) uint8_t tail[32];
        _mm256_store_si256(reinterpret_cast<__m256i*>(tail), out);
        std::memcpy(dst[r] + b, tail, size_t(n));
      }
    }
  }
}

// Rows per block: each step's mask and weights serve them all. 3 keeps the
// 6 accumulators, 3 plan registers and per-row temporaries within AVX2's 16
// registers (4 spills, 2 slower on 640 -> 448 and no faster on 640 -> 1024).
constexpr int kBlockRows = 3;

template <bool kShared>
void horizontal_bytes_t(const RgbImage& in, int y0, int y1, const ByteWindowPlan& plan,
                        uint8_t* dst) {
  const size_t out_row = size_t(plan.out_bytes);
  int y = y0;
  for (; y + kBlockRows <= y1; y += kBlockRows) {
    const uint8_t* src[kBlockRows];
    uint8_t* out[kBlockRows];
    for (int r = 0; r < kBlockRows; ++r) {
      src[r] = in.row(y + r);
      out[r] = dst + size_t(y + r - y0) * out_row;
    }
    rows_bytes<kBlockRows, kShared>(plan, src, out);
  }
  for (; y < y1; ++y) {
    const uint8_t* src[1] = {in.row(y)};
    uint8_t* out[1] = {dst + size_t(y - y0) * out_row};
    rows_bytes<1, kShared>(plan, src, out);
  }
}

}  // namespace

bool build_byte_window_plan(const PilCoefficients& co, int channels, int in_width, int col0,
                            int ncols, ByteWindowPlan* plan) {
  const int out_bytes = ncols * channels, row_bytes = in_width * channels;
  if (row_bytes < 16) return false;
  plan->out_bytes = out_bytes;
  plan->vectors = 4 * ((out_bytes + 31) / 32);
  plan->shared_window = false;
  plan->step_begin.assign(1, 0);
  plan->steps.clear();
  plan->windows.clear();
  // The weights with zeros after them: fill_step reads weights[t] of every
  // output byte for t < the vector's largest count (and selects 0 past the
  // byte's own count) without a branch.
  const int max_count = *std::max_element(co.count.begin() + col0, co.count.begin() + col0 + ncols);
  std::vector<int32_t> weights(co.weights.size() + max_count + 1, 0);
  std::copy(co.weights.begin(), co.weights.end(), weights.begin());
  // Bytes past out_bytes: no taps.
  std::vector<ByteTaps> out(size_t(plan->vectors) * 8,
                            ByteTaps{0, 0, weights.data() + co.weights.size()});
  for (int b = 0, x = col0, c = 0; b < out_bytes; ++b) {
    out[b] = ByteTaps{co.first[x] * channels + c, co.count[x], weights.data() + co.offset[x]};
    if (++c == channels) c = 0, ++x;
  }
  for (int v = 0; v < plan->vectors; ++v) {
    int max_count = 0;
    for (int b = 8 * v; b < 8 * v + 8; ++b) max_count = std::max(max_count, out[b].count);
    plan->step_begin.push_back(plan->step_begin.back() + (max_count + 1) / 2);
  }
  const size_t steps = size_t(plan->step_begin.back());
  plan->steps.resize(steps);
  plan->windows.resize(2 * steps);
  std::vector<int> shared(steps);
  bool all_shared = true;
  for (int v = 0; v < plan->vectors; ++v)
    for (int s = plan->step_begin[v]; s < plan->step_begin[v + 1]; ++s) {
      if (!fill_step(&out[8 * v], channels, row_bytes, s - plan->step_begin[v], &plan->steps[s],
                     &plan->windows[2 * size_t(s)], &shared[s])) {
        *plan = ByteWindowPlan();
        return false;
      }
      all_shared = all_shared && shared[s] >= 0;
    }
  if (all_shared) share_windows(shared, plan);
  return true;
}

void horizontal_bytes(const RgbImage& in, int y0, int y1, const ByteWindowPlan& plan,
                      uint8_t* dst) {
  if (plan.shared_window)
    horizontal_bytes_t<true>(in, y0, y1, plan, dst);
  else
    horizontal_bytes_t<false>(in, y0, y1, plan, dst);
}

// ---- RGB pair kernel -----------------------------------------------------------
//
// Two output pixels per 256-bit vector (one per 128-bit lane), two taps per
// step with vpmaddwd (weights split as above). One step loads 8 bytes at
// pixel x (R G B R G B R G) and shuffles them to the words (R_x, R_x+1, G_x,
// G_x+1, B_x, B_x+1, 0, 0); vpmaddwd with (k_t, k_t+1) x 3 gives the three
// channel sums of taps t and t + 1.

namespace {

struct PairPlan {
  int pairs = 0;                 // output pixel pairs
  std::vector<int> step_begin;   // pairs + 1 entries
  std::vector<int32_t> src;      // per step: byte offsets of the loads for pixels a and b
  std::vector<int16_t> kh, kl;   // per step: 16 words (lane a then lane b)
  // Per pair: when pixel b's taps start at most 3 pixels after pixel a's,
  // one 16-byte load serves both lanes, with this vpshufb mask (32 bytes).
  std::vector<uint8_t> near;
  std::vector<int8_t> mask;
};

PairPlan plan_pairs(const PilCoefficients& co, int in_width, int col0, int ncols) {
  PairPlan plan;
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
          plan.kh.push_back(weight_high(k0));
          plan.kh.push_back(weight_high(k1));
          plan.kl.push_back(weight_low(k0));
          plan.kl.push_back(weight_low(k1));
        }
        plan.kh.insert(plan.kh.end(), 2, 0);
        plan.kl.insert(plan.kl.end(), 2, 0);
      }
  }
  plan.step_begin.push_back(int(plan.src.size() / 2));
  return plan;
}

__attribute__((target("avx2"))) void rgb_pairs(const RgbImage& in, int y0, int y1,
                                              const PairPlan& plan, int ncols, uint8_t* dst) {
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
      __m256i ah = _mm256_setzero_si256(), al = half;
      const int s0 = plan.step_begin[j], s1 = plan.step_begin[j + 1];
      if (plan.near[j]) {
        const __m256i m = load256(plan.mask.data() + 32 * size_t(j));
        for (int s = s0; s < s1; ++s) {
          const __m256i v = _mm256_shuffle_epi8(
              _mm256_broadcastsi128_si256(
                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + plan.src[2 * s]))),
              m);
          ah = _mm256_add_epi32(ah, _mm256_madd_epi16(v, load256(kh + 16 * size_t(s))));
          al = _mm256_add_epi32(al, _mm256_madd_epi16(v, load256(kl + 16 * size_t(s))));
        }
      } else {
        for (int s = s0; s < s1; ++s) {
          const __m128i va =
              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + plan.src[2 * s]));
          const __m128i vb =
              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + plan.src[2 * s + 1]));
          const __m256i v = _mm256_shuffle_epi8(
              _mm256_inserti128_si256(_mm256_castsi128_si256(va), vb, 1), shuffle);
          ah = _mm256_add_epi32(ah, _mm256_madd_epi16(v, load256(kh + 16 * size_t(s))));
          al = _mm256_add_epi32(al, _mm256_madd_epi16(v, load256(kl + 16 * size_t(s))));
        }
      }
      const __m256i sum = finish_sum(ah, al);
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

}  // namespace

void horizontal_rgb_pairs(const RgbImage& in, int y0, int y1, const PilCoefficients& co,
                          int col0, int ncols, uint8_t* dst) {
  rgb_pairs(in, y0, y1, plan_pairs(co, in.width, col0, ncols), ncols, dst);
}

// ---- vertical ------------------------------------------------------------------
//
// Output byte e of a row is sum_t row_t[e] k_t over the input rows it reads.
// A block of 32 output bytes adds two taps per step: the 32 bytes a of row t
// and b of row t + 1 are interleaved (vpunpck{l,h}bw a, b: a0 b0 a1 b1 ...)
// and zero-extended (vpunpck{l,h}bw against 0) to four vectors of 8 int32
// lanes, each lane the words (a_e, b_e); vpmaddwd with the broadcast weight
// pairs (kh_t, kh_t+1) and (kl_t, kl_t+1) (the split above) adds
// a_e kh_t + b_e kh_t+1 and a_e kl_t + b_e kl_t+1 to byte e's high and low
// sums. An odd last tap pairs its row with itself and weight 0. The unpacks
// keep the 128-bit lanes apart and the packs (packssdw, then packuswb:
// Pillow's clip to 0..255) interleave them back, so the bytes come out in
// order. The sums are Pillow's integers added in another order (exact int32
// additions). A row's last block ends at its last byte (it may overlap the
// one before and rewrite the same values), so no load or store leaves a row.
// Against the former vpmulld per tap (and 16 bytes per block): as many
// multiplies, but fewer shuffles (6 unpacks per 2 taps of 32 bytes, not 8
// zero-extensions + 2 shifts), one finish per 32 bytes, and blocks unrolled
// for rows of 1 to 4 taps: the pass is 1.5x faster on Zen 4.

namespace {

// Weight pair p: words (kh_2p, kh_2p+1) and (kl_2p, kl_2p+1) as int32, for
// vpbroadcastd.
int32_t word_pair(int16_t lo, int16_t hi) {
  return int32_t(uint32_t(uint16_t(lo)) | uint32_t(uint16_t(hi)) << 16);
}

void weight_pairs(const int32_t* k, int n, std::vector<int32_t>* pairs) {
  pairs->resize(2 * size_t((n + 1) / 2));
  for (int t = 0; t < n; t += 2) {
    const int32_t k1 = t + 1 < n ? k[t + 1] : 0;
    (*pairs)[t] = word_pair(weight_high(k[t]), weight_high(k1));
    (*pairs)[t + 1] = word_pair(weight_low(k[t]), weight_low(k1));
  }
}

// Sums of 32 output bytes: high and low parts (see finish_sum) of bytes
// 0-3 | 16-19 (h0, l0), 4-7 | 20-23, 8-11 | 24-27, 12-15 | 28-31 (h3, l3).
struct Sums32 {
  __m256i h0, h1, h2, h3, l0, l1, l2, l3;
};

// Adds a_e kh + b_e kh' to the high sums and the kl products to the low ones
// for the 32 bytes at a and b.
__attribute__((target("avx2"), always_inline)) inline void add_tap_pair(const uint8_t* a,
                                                                       const uint8_t* b,
                                                                       const int32_t* pair,
                                                                       Sums32* s) {
  const __m256i va = load256(a), vb = load256(b), zero = _mm256_setzero_si256();
  const __m256i kh = _mm256_set1_epi32(pair[0]), kl = _mm256_set1_epi32(pair[1]);
  const __m256i lo = _mm256_unpacklo_epi8(va, vb), hi = _mm256_unpackhi_epi8(va, vb);
  const __m256i w0 = _mm256_unpacklo_epi8(lo, zero), w1 = _mm256_unpackhi_epi8(lo, zero);
  const __m256i w2 = _mm256_unpacklo_epi8(hi, zero), w3 = _mm256_unpackhi_epi8(hi, zero);
  s->h0 = _mm256_add_epi32(s->h0, _mm256_madd_epi16(w0, kh));
  s->h1 = _mm256_add_epi32(s->h1, _mm256_madd_epi16(w1, kh));
  s->h2 = _mm256_add_epi32(s->h2, _mm256_madd_epi16(w2, kh));
  s->h3 = _mm256_add_epi32(s->h3, _mm256_madd_epi16(w3, kh));
  s->l0 = _mm256_add_epi32(s->l0, _mm256_madd_epi16(w0, kl));
  s->l1 = _mm256_add_epi32(s->l1, _mm256_madd_epi16(w1, kl));
  s->l2 = _mm256_add_epi32(s->l2, _mm256_madd_epi16(w2, kl));
  s->l3 = _mm256_add_epi32(s->l3, _mm256_madd_epi16(w3, kl));
}

// Output bytes [e, e + 32) of the row; kPairs > 0: the row's number of tap
// pairs, known at compile time (unrolled), else (n + 1) / 2.
template <int kPairs>
__attribute__((target("avx2"), always_inline)) inline void vertical_block(
    const uint8_t* src, size_t stride, const int32_t* pairs, int n, int e, uint8_t* out) {
  const __m256i zero = _mm256_setzero_si256(), half = _mm256_set1_epi32(kHalf);
  Sums32 s{zero, zero, zero, zero, half, half, half, half};
  const int np = kPairs > 0 ? kPairs : (n + 1) / 2;
  #pragma GCC unroll 2
  for (int p = 0; p < np; ++p) {
    const uint8_t* a = src + 2 * p * stride + e;
    add_tap_pair(a, 2 * p + 1 < n ? a + stride : a, pairs + 2 * p, &s);
  }
  const __m256i bytes = _mm256_packus_epi16(
      _mm256_packs_epi32(finish_sum(s.h0, s.l0), finish_sum(s.h1, s.l1)),
      _mm256_packs_epi32(finish_sum(s.h2, s.l2), finish_sum(s.h3, s.l3)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + e), bytes);
}

template <int kPairs>
__attribute__((target("avx2"))) void vertical_blocks(const uint8_t* src, size_t stride,
                                                    const int32_t* pairs, int n, int len,
                                                    uint8_t* out) {
  for (int e = 0; e < len; e += 32)
    vertical_block<kPairs>(src, stride, pairs, n, std::min(e, len - 32), out);
}

}  // namespace

__attribute__((target("avx2"))) int vertical_row(const uint8_t* src, size_t stride,
                                                const int32_t* k, int n, int len,
                                                uint8_t* out) {
  if (len < 32) return 0;
  thread_local std::vector<int32_t> pairs;
  weight_pairs(k, n, &pairs);
  // Bilinear upscales read 2 or 3 rows, SAM's and CLIP's downscales 3 to 9.
  switch ((n + 1) / 2) {
    case 1: vertical_blocks<1>(src, stride, pairs.data(), n, len, out); break;
    case 2: vertical_blocks<2>(src, stride, pairs.data(), n, len, out); break;
    default: vertical_blocks<0>(src, stride, pairs.data(), n, len, out); break;
  }
  return len;
}

}  // namespace pil_avx2
}  // namespace rd
