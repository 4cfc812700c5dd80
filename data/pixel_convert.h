// uint8 -> float32 conversions of the preprocessing stages, vectorised
// (AVX2 when the CPU has it) with results identical to the scalar formulas.
#pragma once
#include <cstdint>

namespace rd {

// dst[i] = (float(src[i]) - mean) / std in float32: torch's
// (uint8 tensor - f32 mean) / f32 std, as SAM's preprocess computes it.
void normalize_u8(const uint8_t* src, int n, float mean, float std, float* dst);

// dst[i] = lut[src[i]] for a 256-entry table.
void lookup_u8(const uint8_t* src, int n, const float* lut, float* dst);

}  // namespace rd
