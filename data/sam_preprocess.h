// SAM-branch preprocessing (spec/data.md section 4), as READ does it:
// ResizeLongestSide(T).apply_image (PIL BILINEAR resize of the uint8 image so
// that the long side is T, sizes rounded half up), then
// (x - pixel_mean) / pixel_std in float32 and zero padding right/bottom to
// T x T. Output float32 [3, T, T] plus sam_mask_shape.
#pragma once
#include <torch/torch.h>

#include <array>
#include <utility>

#include "common/read_batch.h"
#include "data/rgb_image.h"

namespace rd {

struct SamPreprocessConfig {
  int target_length = 1024;  // resize target and padded size (READ's --image_size)
  std::array<float, 3> pixel_mean{123.675f, 116.28f, 103.53f};
  std::array<float, 3> pixel_std{58.395f, 57.12f, 57.375f};
};

// ResizeLongestSide.get_preprocess_shape: scale = T / max(h, w) in double,
// (int(h * scale + 0.5), int(w * scale + 0.5)).
std::pair<int, int> sam_resized_size(int height, int width, int target_length);

// The resize stage: `image` resized to sam_resized_size(orig_h, orig_w).
// orig_h/orig_w are the full-resolution size (they differ from the image's
// only after DCT-scaled decoding; 0 = the image's own size).
RgbImage sam_resize(const RgbImage& image, const SamPreprocessConfig& config, int orig_h = 0,
                    int orig_w = 0);

// The normalise + pad stage: f32 [3, T, T].
torch::Tensor sam_normalize_pad(const RgbImage& resized, const SamPreprocessConfig& config);
// The same into `out`, a contiguous f32 [3, T, T] tensor (e.g. one image of a
// batch tensor, so a collator need not copy).
void sam_normalize_pad_into(const RgbImage& resized, const SamPreprocessConfig& config,
                            torch::Tensor out);

struct SamInput {
  torch::Tensor pixel_values;  // f32 [3, T, T]
  SamMaskShape mask_shape;     // (resized h, w), (original H, W)
};

SamInput sam_preprocess(const RgbImage& image, const SamPreprocessConfig& config, int orig_h = 0,
                        int orig_w = 0);

}  // namespace rd
