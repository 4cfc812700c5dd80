#include "data/sam_preprocess.h"

#include <algorithm>
#include <cstdint>

#include "common/error.h"
#include "data/pil_resample.h"
#include "data/pixel_convert.h"
#include "data/buffer_cache.h"

namespace rd {

std::pair<int, int> sam_resized_size(int height, int width, int target_length) {
  READ_CHECK(height > 0 && width > 0 && target_length > 0, "sam_resized_size: bad sizes ",
             height, "x", width, " -> ", target_length);
  const double scale = target_length * 1.0 / std::max(height, width);
  return {int(height * scale + 0.5), int(width * scale + 0.5)};
}

RgbImage sam_resize(const RgbImage& image, const SamPreprocessConfig& config, int orig_h,
                    int orig_w) {
  READ_CHECK(image.channels == 3, "sam_resize: want an RGB image, got ", image.channels,
             " channels");
  if (orig_h <= 0 || orig_w <= 0) orig_h = image.height, orig_w = image.width;
  const auto [h, w] = sam_resized_size(orig_h, orig_w, config.target_length);
  // torchvision resize(to_pil_image(x), (h, w)) = PIL Image.resize((w, h), BILINEAR)
  return pil_resize(image, h, w, PilFilter::kBilinear);
}

void sam_normalize_pad_into(const RgbImage& resized, const SamPreprocessConfig& config,
                            torch::Tensor out) {
  const int T = config.target_length, h = resized.height, w = resized.width;
  READ_CHECK(resized.channels == 3 && h <= T && w <= T, "sam_normalize_pad: a ", h, "x", w, "x",
             resized.channels, " image does not fit the ", T, "x", T, " SAM input");
  READ_CHECK(out.scalar_type() == torch::kFloat32 && out.is_contiguous() &&
                 out.sizes() == torch::IntArrayRef({3, T, T}),
             "sam_normalize_pad: want a contiguous f32 [3, ", T, ", ", T, "] output, got ",
             out.sizes(), " ", out.scalar_type());
  float* dst = out.data_ptr<float>();
  const size_t plane = size_t(T) * T;
  // 12 MB per image at T = 1024, read back much later (collation, model):
  // non-temporal stores skip the cache and the read-for-ownership traffic.
  const bool streaming = plane * 3 * sizeof(float) >= (size_t(2) << 20) && T % 8 == 0 &&
                         reinterpret_cast<uintptr_t>(dst) % 32 == 0;
  for (int y = 0; y < h; ++y) {
    float* rows[3] = {dst + size_t(y) * T, dst + plane + size_t(y) * T,
                      dst + 2 * plane + size_t(y) * T};
    normalize_rgb(resized.row(y), w, config.pixel_mean, config.pixel_std, rows, streaming);
    for (float* r : rows) zero_floats(r + w, size_t(T - w), streaming);  // F.pad right
  }
  for (int c = 0; c < 3; ++c)  // F.pad bottom
    zero_floats(dst + c * plane + size_t(h) * T, size_t(T - h) * T, streaming);
  if (streaming) streaming_fence();
}

torch::Tensor sam_normalize_pad(const RgbImage& resized, const SamPreprocessConfig& config) {
  torch::Tensor out =
      cached_empty({3, config.target_length, config.target_length}, torch::kFloat32);
  sam_normalize_pad_into(resized, config, out);
  return out;
}

SamInput sam_preprocess(const RgbImage& image, const SamPreprocessConfig& config, int orig_h,
                        int orig_w) {
  if (orig_h <= 0 || orig_w <= 0) orig_h = image.height, orig_w = image.width;
  RgbImage resized = sam_resize(image, config, orig_h, orig_w);
  SamInput out;
  out.pixel_values = sam_normalize_pad(resized, config);
  // spec 8.9: the original size is always (H, W) of the decoded image.
  out.mask_shape = SamMaskShape{resized.height, resized.width, orig_h, orig_w};
  return out;
}

}  // namespace rd
