// AVX2 kernels of pil_resample.cpp (internal to it). They compute exactly the
// integers of the scalar kernels there: Pillow's int32 sums
// (1 << 21) + sum_t v_t k_t of 22-bit weights k_t, shifted right by 22 and
// clipped to 0..255.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/pil_resample.h"

namespace rd {
namespace pil_avx2 {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

// Horizontal pass, one output byte (pixel x channel) per int32 lane, any
// channel count; see pil_resample_avx2.cpp for the layout. Built when every
// output byte's taps fit a 16-byte window of the input row (upscales and
// downscales up to about 4x; see build_byte_window_plan).
// Step p of one vector of 8 output bytes: their taps 2p and 2p + 1. Word
// 2i + j of mask (as bytes: window byte, then -128 = zero) picks output byte
// i's tap 2p + j from the window; kh / kl hold its weight's high and low part.
struct alignas(32) ByteTapStep {
  int8_t mask[32];
  int16_t kh[16], kl[16];
};
struct ByteWindowPlan {
  int out_bytes = 0;              // output row length in bytes
  int vectors = 0;                // 8-byte vectors, a multiple of 4 (32-byte stores)
  bool shared_window = false;     // both 128-bit lanes of a step read the same window
  std::vector<int> step_begin;    // vectors + 1 entries, into steps and windows (2 per step)
  std::vector<ByteTapStep> steps;
  std::vector<int32_t> windows;   // per step: start byte of lane 0's and lane 1's window
};

// False (plan left unusable) when a window does not fit or rows are narrower
// than 16 bytes.
bool build_byte_window_plan(const PilCoefficients& co, int channels, int in_width, int col0,
                            int ncols, ByteWindowPlan* plan);

// Rows [y0, y1) of `in` into dst (rows of plan.out_bytes bytes).
void horizontal_bytes(const RgbImage& in, int y0, int y1, const ByteWindowPlan& plan,
                      uint8_t* dst);

// The older RGB kernel (two output pixels per vector), for downscales whose
// taps do not fit the byte kernel's windows. Needs in.width >= 8.
void horizontal_rgb_pairs(const RgbImage& in, int y0, int y1, const PilCoefficients& co,
                          int col0, int ncols, uint8_t* dst);

// One output row of the vertical pass, all len bytes when len >= 32 (two
// taps per multiply, 32 bytes per block; see pil_resample_avx2.cpp); returns
// how many bytes it wrote: len, or 0 (the caller does them).
int vertical_row(const uint8_t* src, size_t stride, const int32_t* k, int n, int len,
                 uint8_t* out);

}  // namespace pil_avx2
}  // namespace rd
