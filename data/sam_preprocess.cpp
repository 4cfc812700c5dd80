#include "data/sam_preprocess.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "data/pil_resample.h"
#include "data/pixel_convert.h"

namespace rd {

std::pair<int, int> sam_resized_size(int height, int width, int target_length) {
  READ_CHECK(height > 0 && width > 0 && target_length > 0, "sam_resized_size: bad sizes ",
             height, "x", width, " -> ", target_length);
  const double scale = target_length * 1.0 / std::max(height, width);
  return {int(height * scale + 0.5), int(width * scale + 0.5)};
}

PlanarImage sam_resize(const RgbImage& image, const SamPreprocessConfig& config, int orig_h,
                       int orig_w) {
  READ_CHECK(image.channels == 3, "sam_resize: want an RGB image, got ", image.channels,
             " channels");
  if (orig_h <= 0 || orig_w <= 0) orig_h = image.height, orig_w = image.width;
  const auto [h, w] = sam_resized_size(orig_h, orig_w, config.target_length);
  // torchvision resize(to_pil_image(x), (h, w)) = PIL Image.resize((w, h), BILINEAR)
  return pil_resize(image, h, w, PilFilter::kBilinear);
}

torch::Tensor sam_normalize_pad(const PlanarImage& resized, const SamPreprocessConfig& config) {
  const int T = config.target_length, h = resized.height, w = resized.width;
  READ_CHECK(resized.channels == 3 && h <= T && w <= T, "sam_normalize_pad: a ", h, "x", w, "x",
             resized.channels, " image does not fit the ", T, "x", T, " SAM input");
  torch::Tensor out = torch::empty({3, T, T}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  for (int c = 0; c < 3; ++c) {
    const uint8_t* src = resized.plane(c);
    float* plane = dst + size_t(c) * T * T;
    for (int y = 0; y < h; ++y) {
      float* row = plane + size_t(y) * T;
      normalize_u8(src + size_t(y) * w, w, config.pixel_mean[c], config.pixel_std[c], row);
      std::memset(row + w, 0, sizeof(float) * (T - w));  // F.pad right
    }
    std::memset(plane + size_t(h) * T, 0, sizeof(float) * size_t(T - h) * T);  // F.pad bottom
  }
  return out;
}

SamInput sam_preprocess(const RgbImage& image, const SamPreprocessConfig& config, int orig_h,
                        int orig_w) {
  if (orig_h <= 0 || orig_w <= 0) orig_h = image.height, orig_w = image.width;
  PlanarImage resized = sam_resize(image, config, orig_h, orig_w);
  SamInput out;
  out.pixel_values = sam_normalize_pad(resized, config);
  // spec 8.9: the original size is always (H, W) of the decoded image.
  out.mask_shape = SamMaskShape{resized.height, resized.width, orig_h, orig_w};
  return out;
}

}  // namespace rd
