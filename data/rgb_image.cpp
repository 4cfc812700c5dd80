#include "data/rgb_image.h"

#include "common/error.h"

namespace rd {

namespace {
torch::Tensor adopt(std::vector<uint8_t>&& pixels, std::vector<int64_t> shape) {
  auto* owner = new std::vector<uint8_t>(std::move(pixels));
  return torch::from_blob(
      owner->data(), shape, [owner](void*) { delete owner; }, torch::kUInt8);
}
}  // namespace

torch::Tensor to_tensor(RgbImage&& image) {
  return adopt(std::move(image.pixels), {image.height, image.width, image.channels});
}

torch::Tensor to_tensor(PlanarImage&& image) {
  return adopt(std::move(image.pixels), {image.channels, image.height, image.width});
}

RgbImage rgb_image_from_tensor(const torch::Tensor& hwc) {
  READ_CHECK(hwc.dim() == 3 && hwc.scalar_type() == torch::kUInt8,
             "rgb_image_from_tensor: want a u8 [H, W, C] tensor, got ", hwc.sizes(), " ",
             hwc.scalar_type());
  RgbImage out(int(hwc.size(0)), int(hwc.size(1)), int(hwc.size(2)));
  auto c = hwc.contiguous();
  std::memcpy(out.pixels.data(), c.data_ptr<uint8_t>(), out.pixels.size());
  return out;
}

PlanarImage to_planar(const RgbImage& image) {
  PlanarImage out(image.height, image.width, image.channels);
  const size_t n = size_t(image.height) * image.width;
  const int C = image.channels;
  for (int c = 0; c < C; ++c) {
    uint8_t* dst = out.plane(c);
    const uint8_t* src = image.pixels.data() + c;
    for (size_t i = 0; i < n; ++i) dst[i] = src[i * C];
  }
  return out;
}

RgbImage to_interleaved(const PlanarImage& image) {
  RgbImage out(image.height, image.width, image.channels);
  const size_t n = size_t(image.height) * image.width;
  const int C = image.channels;
  for (int c = 0; c < C; ++c) {
    const uint8_t* src = image.plane(c);
    uint8_t* dst = out.pixels.data() + c;
    for (size_t i = 0; i < n; ++i) dst[i * C] = src[i];
  }
  return out;
}

}  // namespace rd
