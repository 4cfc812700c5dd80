// Bit-exact port of Pillow's (9.4) antialiased uint8 resampling,
// Image.resize((w, h), BILINEAR | BICUBIC), from src/libImaging/Resample.c:
//  - per output pixel, filter support scaled by max(1, in/out) (antialiasing
//    when downscaling), bounds xmin = int(center - support + 0.5), xmax =
//    int(center + support + 0.5) clamped to the image, weights normalised in
//    double, then converted to 22-bit fixed point (round half away from zero);
//  - separable: the horizontal pass first (only when the width changes, over
//    the rows the vertical pass will read), then the vertical pass (only when
//    the height changes); each pass adds 1 << 21, shifts right by 22 and clips
//    to 0..255, so the intermediate image is uint8 as in Pillow.
// This is what torchvision's resize on a PIL image (SAM branch, BILINEAR) and
// transformers' CLIPImageProcessor (CLIP branch, BICUBIC) do in READ.
//
// The kernels have AVX2 versions chosen at run time (pil_resample_avx2.cpp);
// they compute the same integers as the scalar ones (tests compare both on
// many sizes, ratios, regions and channel counts).
#pragma once
#include <cstdint>
#include <vector>

#include "data/rgb_image.h"

namespace rd {

enum class PilFilter { kBilinear, kBicubic };

// A rectangle of the full resized image: rows [top, top + height), columns
// [left, left + width).
struct ResizeRegion {
  int top = 0, left = 0, height = 0, width = 0;
};

// Resizes `in` (interleaved, 1..4 channels) to out_h x out_w. Every output
// pixel equals Pillow's.
RgbImage pil_resize(const RgbImage& in, int out_h, int out_w, PilFilter filter);

// Only `region` of the out_h x out_w resize (e.g. a center crop): the pixels
// are the same as in the full resize, the others are never computed.
RgbImage pil_resize_region(const RgbImage& in, int out_h, int out_w, PilFilter filter,
                           const ResizeRegion& region);

// Pillow's per-output-pixel weights along one axis, in 22-bit fixed point,
// with zero weights at either end dropped (they add nothing to the sums).
struct PilCoefficients {
  std::vector<int> first;        // first input index used by output i
  std::vector<int> count;        // number of weights of output i
  std::vector<int> offset;       // start of output i's weights in `weights`
  std::vector<int32_t> weights;
};
PilCoefficients pil_coefficients(int in_size, int out_size, PilFilter filter);

namespace detail {
// Whether the AVX2 kernels are used (true when the CPU has AVX2). Tests turn
// them off to compare with the scalar kernels.
bool pil_simd_available();
void set_pil_simd_enabled(bool enabled);
bool pil_simd_enabled();
// Which kernel the horizontal pass of an in_width -> out_width resize uses
// for output columns [col0, col0 + ncols) of `channels`-channel rows (tests).
enum class PilHorizontalKernel { kScalar, kRgbPairs, kBytes, kBytesSharedWindow };
PilHorizontalKernel pil_horizontal_kernel(int in_width, int out_width, PilFilter filter,
                                          int channels, int col0, int ncols);
}  // namespace detail

}  // namespace rd
