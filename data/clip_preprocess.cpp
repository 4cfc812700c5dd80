#include "data/clip_preprocess.h"

#include "common/error.h"
#include "data/pixel_convert.h"
#include "data/buffer_cache.h"

namespace rd {

std::pair<int, int> clip_resized_size(int height, int width, int shortest_edge) {
  READ_CHECK(height > 0 && width > 0 && shortest_edge > 0, "clip_resized_size: bad sizes ",
             height, "x", width, " -> ", shortest_edge);
  const bool portrait = width <= height;
  const int s = portrait ? width : height, l = portrait ? height : width;
  // Python: int(requested_new_short * long / short): integer product, true division.
  const int new_long = int(double(int64_t(shortest_edge) * l) / double(s));
  return portrait ? std::make_pair(new_long, shortest_edge) : std::make_pair(shortest_edge, new_long);
}

ResizeRegion clip_crop_region(int resized_h, int resized_w, const ClipPreprocessConfig& config) {
  READ_CHECK(config.crop_height <= resized_h && config.crop_width <= resized_w,
             "CLIP preprocessing: center crop ", config.crop_height, "x", config.crop_width,
             " larger than the resized ", resized_h, "x", resized_w,
             " image (shortest_edge below the crop size is not supported)");
  // Python floor division of non-negative numbers.
  return ResizeRegion{(resized_h - config.crop_height) / 2, (resized_w - config.crop_width) / 2,
                      config.crop_height, config.crop_width};
}

RgbImage clip_resize_crop(const RgbImage& image, const ClipPreprocessConfig& config,
                             int orig_h, int orig_w) {
  READ_CHECK(image.channels == 3, "clip_resize_crop: want an RGB image, got ", image.channels,
             " channels");
  if (orig_h <= 0 || orig_w <= 0) orig_h = image.height, orig_w = image.width;
  const auto [h, w] = clip_resized_size(orig_h, orig_w, config.shortest_edge);
  return pil_resize_region(image, h, w, PilFilter::kBicubic, clip_crop_region(h, w, config));
}

torch::Tensor clip_normalize(const RgbImage& cropped, const ClipPreprocessConfig& config) {
  torch::Tensor out = cached_empty({3, cropped.height, cropped.width}, torch::kFloat32);
  clip_normalize_into(cropped, config, out);
  return out;
}

void clip_normalize_into(const RgbImage& cropped, const ClipPreprocessConfig& config, torch::Tensor out) {
  READ_CHECK(cropped.channels == 3, "clip_normalize: want 3 channels, got ", cropped.channels);
  const int h = cropped.height, w = cropped.width;
  READ_CHECK(out.scalar_type() == torch::kFloat32 && out.is_contiguous() &&
                 out.sizes() == torch::IntArrayRef({3, h, w}),
             "clip_normalize: want a contiguous f32 [3, ", h, ", ", w, "] output, got ", out.sizes(), " ",
             out.scalar_type());
  float* dst = out.data_ptr<float>();
  // Every uint8 value maps to one float: rescale in float64, cast to float32,
  // normalise in float32 (transformers' rescale then normalize).
  float lut[3][256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) {
      const float x = float(double(v) * config.rescale_factor);
      lut[c][v] = (x - config.image_mean[c]) / config.image_std[c];
    }
  const size_t plane = size_t(h) * w;
  float* const planes[3] = {dst, dst + plane, dst + 2 * plane};
  lookup_rgb(cropped.pixels.data(), h * w, lut, planes);
}

torch::Tensor clip_preprocess(const RgbImage& image, const ClipPreprocessConfig& config,
                              int orig_h, int orig_w) {
  return clip_normalize(clip_resize_crop(image, config, orig_h, orig_w), config);
}

}  // namespace rd
