#include "data/pixel_convert.h"

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace rd {

namespace {

bool has_avx2() {
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return avx2;
}

void normalize_scalar(const uint8_t* rgb, int pixels, const std::array<float, 3>& mean,
                      const std::array<float, 3>& std, float* const planes[3], int begin) {
  for (int i = begin; i < pixels; ++i)
    for (int c = 0; c < 3; ++c) planes[c][i] = (float(rgb[3 * i + c]) - mean[c]) / std[c];
}

// 16 pixels (48 bytes) -> 16 bytes per channel with three shuffles each.
__attribute__((target("avx2"))) inline void deinterleave16(const uint8_t* p, __m128i* r,
                                                           __m128i* g, __m128i* b) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
  const __m128i z = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
  const char _ = -128;
  *r = _mm_or_si128(
      _mm_or_si128(_mm_shuffle_epi8(x, _mm_setr_epi8(0, 3, 6, 9, 12, 15, _, _, _, _, _, _, _, _, _, _)),
                   _mm_shuffle_epi8(y, _mm_setr_epi8(_, _, _, _, _, _, 2, 5, 8, 11, 14, _, _, _, _, _))),
      _mm_shuffle_epi8(z, _mm_setr_epi8(_, _, _, _, _, _, _, _, _, _, _, 1, 4, 7, 10, 13)));
  *g = _mm_or_si128(
      _mm_or_si128(_mm_shuffle_epi8(x, _mm_setr_epi8(1, 4, 7, 10, 13, _, _, _, _, _, _, _, _, _, _, _)),
                   _mm_shuffle_epi8(y, _mm_setr_epi8(_, _, _, _, _, 0, 3, 6, 9, 12, 15, _, _, _, _, _))),
      _mm_shuffle_epi8(z, _mm_setr_epi8(_, _, _, _, _, _, _, _, _, _, _, 2, 5, 8, 11, 14)));
  *b = _mm_or_si128(
      _mm_or_si128(_mm_shuffle_epi8(x, _mm_setr_epi8(2, 5, 8, 11, 14, _, _, _, _, _, _, _, _, _, _, _)),
                   _mm_shuffle_epi8(y, _mm_setr_epi8(_, _, _, _, _, 1, 4, 7, 10, 13, _, _, _, _, _, _))),
      _mm_shuffle_epi8(z, _mm_setr_epi8(_, _, _, _, _, _, _, _, _, _, 0, 3, 6, 9, 12, 15)));
}

// vsubps / vdivps are correctly rounded like the scalar operations.
__attribute__((target("avx2"))) void normalize_avx2(const uint8_t* rgb, int pixels,
                                                   const std::array<float, 3>& mean,
                                                   const std::array<float, 3>& std,
                                                   float* const planes[3], bool streaming) {
  __m256 m[3], s[3];
  for (int c = 0; c < 3; ++c) m[c] = _mm256_set1_ps(mean[c]), s[c] = _mm256_set1_ps(std[c]);
  int i = 0;
  for (; i + 16 <= pixels; i += 16) {
    __m128i v[3];
    deinterleave16(rgb + 3 * i, &v[0], &v[1], &v[2]);
    for (int c = 0; c < 3; ++c) {
      const __m256 lo = _mm256_div_ps(
          _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v[c])), m[c]), s[c]);
      const __m256 hi = _mm256_div_ps(
          _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v[c], 8))), m[c]),
          s[c]);
      if (streaming) {
        _mm256_stream_ps(planes[c] + i, lo);
        _mm256_stream_ps(planes[c] + i + 8, hi);
      } else {
        _mm256_storeu_ps(planes[c] + i, lo);
        _mm256_storeu_ps(planes[c] + i + 8, hi);
      }
    }
  }
  normalize_scalar(rgb, pixels, mean, std, planes, i);
}

__attribute__((target("avx2"))) void zero_stream_avx2(float* dst, size_t n) {
  size_t i = 0;
  for (; i < n && reinterpret_cast<uintptr_t>(dst + i) % 32 != 0; ++i) dst[i] = 0.f;
  const __m256 z = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, z);
  for (; i < n; ++i) dst[i] = 0.f;
}

}  // namespace

void normalize_rgb(const uint8_t* rgb, int pixels, const std::array<float, 3>& mean,
                   const std::array<float, 3>& std, float* const planes[3], bool streaming) {
  if (has_avx2())
    normalize_avx2(rgb, pixels, mean, std, planes, streaming);
  else
    normalize_scalar(rgb, pixels, mean, std, planes, 0);
}

void lookup_rgb(const uint8_t* rgb, int pixels, const float (*lut)[256], float* const planes[3]) {
  float* r = planes[0];
  float* g = planes[1];
  float* b = planes[2];
  for (int i = 0; i < pixels; ++i, rgb += 3) {
    r[i] = lut[0][rgb[0]];
    g[i] = lut[1][rgb[1]];
    b[i] = lut[2][rgb[2]];
  }
}

void zero_floats(float* dst, size_t n, bool streaming) {
  if (streaming && has_avx2())
    zero_stream_avx2(dst, n);
  else
    std::memset(dst, 0, n * sizeof(float));
}

void streaming_fence() { _mm_sfence(); }

}  // namespace rd
