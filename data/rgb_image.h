// Image buffers of the preprocessing pipeline: an interleaved uint8 image
// (HWC, what decoders produce and READ's reference holds after cv2.imread +
// BGR2RGB) and a planar uint8 image (CHW, what the resampler produces and the
// float tensors are built from). Both own their pixels in a std::vector so a
// decoder, the resampler and the loader can hand them on without copies.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace rd {

struct RgbImage {
  int height = 0, width = 0, channels = 3;
  std::vector<uint8_t> pixels;  // height * width * channels, row-major HWC

  RgbImage() = default;
  RgbImage(int h, int w, int c = 3) : height(h), width(w), channels(c), pixels(size_t(h) * w * c) {}
  bool empty() const { return pixels.empty(); }
  uint8_t* row(int y) { return pixels.data() + size_t(y) * width * channels; }
  const uint8_t* row(int y) const { return pixels.data() + size_t(y) * width * channels; }
};

struct PlanarImage {
  int height = 0, width = 0, channels = 3;
  std::vector<uint8_t> pixels;  // channels planes of height * width, CHW

  PlanarImage() = default;
  PlanarImage(int h, int w, int c = 3) : height(h), width(w), channels(c), pixels(size_t(h) * w * c) {}
  uint8_t* plane(int c) { return pixels.data() + size_t(c) * height * width; }
  const uint8_t* plane(int c) const { return pixels.data() + size_t(c) * height * width; }
};

// u8 [H, W, C] tensor that takes over the image's buffer (no copy).
torch::Tensor to_tensor(RgbImage&& image);
// u8 [C, H, W] tensor that takes over the image's buffer (no copy).
torch::Tensor to_tensor(PlanarImage&& image);
// Copies a u8 [H, W, C] tensor (any strides) into an RgbImage.
RgbImage rgb_image_from_tensor(const torch::Tensor& hwc);

PlanarImage to_planar(const RgbImage& image);
RgbImage to_interleaved(const PlanarImage& image);

}  // namespace rd
