// CLIP-branch preprocessing (spec/data.md section 4): the slow, PIL-based
// CLIPImageProcessor of openai/clip-vit-large-patch14-336 as LLaVA uses it:
// shortest edge -> S with the long edge int(S * long / short) (truncated),
// PIL BICUBIC resize of the uint8 image, center crop at
// top = (h - crop_h) // 2, left = (w - crop_w) // 2, then
// float32(x * rescale_factor computed in double), (x - mean) / std in float32.
// Output float32 [3, crop_h, crop_w]. Only the cropped part of the resize is
// computed (the same pixels as the full resize; see pil_resize_region).
#pragma once
#include <torch/torch.h>

#include <array>
#include <utility>

#include "data/pil_resample.h"
#include "data/rgb_image.h"

namespace rd {

struct ClipPreprocessConfig {
  int shortest_edge = 336;
  int crop_height = 336, crop_width = 336;
  double rescale_factor = 1.0 / 255.0;
  std::array<float, 3> image_mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> image_std{0.26862954f, 0.26130258f, 0.27577711f};
};

// transformers' get_resize_output_image_size(default_to_square=False).
std::pair<int, int> clip_resized_size(int height, int width, int shortest_edge);

// The crop window inside the resized image. The crop must fit: transformers
// would zero-pad a too small image (with an off-by-one for odd differences);
// that never happens with shortest_edge >= crop size, and is an rd::Error here.
ResizeRegion clip_crop_region(int resized_h, int resized_w, const ClipPreprocessConfig& config);

// The uint8 cropped image (resize + crop). orig_h/orig_w: full-resolution
// size when `image` was DCT-scaled at decode (0 = the image's own size).
RgbImage clip_resize_crop(const RgbImage& image, const ClipPreprocessConfig& config,
                             int orig_h = 0, int orig_w = 0);

// rescale + normalise: f32 [3, crop_h, crop_w].
torch::Tensor clip_normalize(const RgbImage& cropped, const ClipPreprocessConfig& config);
// The same into `out`, a contiguous f32 [3, h, w] tensor (e.g. one image of a
// batch tensor, so a collator need not copy).
void clip_normalize_into(const RgbImage& cropped, const ClipPreprocessConfig& config, torch::Tensor out);

torch::Tensor clip_preprocess(const RgbImage& image, const ClipPreprocessConfig& config,
                              int orig_h = 0, int orig_w = 0);

}  // namespace rd
