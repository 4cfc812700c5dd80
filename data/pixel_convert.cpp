#include "data/pixel_convert.h"

#include <immintrin.h>

namespace rd {

namespace {

void normalize_scalar(const uint8_t* src, int n, float mean, float std, float* dst) {
  for (int i = 0; i < n; ++i) dst[i] = (float(src[i]) - mean) / std;
}

// vsubps / vdivps are correctly rounded like the scalar operations.
__attribute__((target("avx2"))) void normalize_avx2(const uint8_t* src, int n, float mean,
                                                   float std, float* dst) {
  const __m256 m = _mm256_set1_ps(mean), s = _mm256_set1_ps(std);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
    __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
    _mm256_storeu_ps(dst + i, _mm256_div_ps(_mm256_sub_ps(a, m), s));
    _mm256_storeu_ps(dst + i + 8, _mm256_div_ps(_mm256_sub_ps(b, m), s));
  }
  normalize_scalar(src + i, n - i, mean, std, dst + i);
}

bool has_avx2() {
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return avx2;
}

}  // namespace

void normalize_u8(const uint8_t* src, int n, float mean, float std, float* dst) {
  if (has_avx2())
    normalize_avx2(src, n, mean, std, dst);
  else
    normalize_scalar(src, n, mean, std, dst);
}

void lookup_u8(const uint8_t* src, int n, const float* lut, float* dst) {
  for (int i = 0; i < n; ++i) dst[i] = lut[src[i]];
}

}  // namespace rd
