// uint8 RGB (interleaved) -> float32 planes, the last step of both
// preprocessing branches. Vectorised (AVX2 when the CPU has it) with results
// identical to the scalar formulas.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace rd {

// plane_c[i] = (float(rgb[3 i + c]) - mean[c]) / std[c] in float32: torch's
// (uint8 tensor - f32 mean) / f32 std, as SAM's preprocess computes it.
// `streaming` uses non-temporal stores (for outputs far larger than the
// caches, read much later); planes must then be 32-byte aligned.
void normalize_rgb(const uint8_t* rgb, int pixels, const std::array<float, 3>& mean,
                   const std::array<float, 3>& std, float* const planes[3], bool streaming);

// plane_c[i] = lut[c][rgb[3 i + c]] for 256-entry tables.
void lookup_rgb(const uint8_t* rgb, int pixels, const float (*lut)[256], float* const planes[3]);

// Zero floats (non-temporal stores when `streaming`).
void zero_floats(float* dst, size_t n, bool streaming);

// A memory fence after streaming stores (before another thread reads them).
void streaming_fence();

}  // namespace rd
