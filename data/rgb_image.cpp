#include "data/rgb_image.h"

#include <cstring>

#include "common/error.h"

namespace rd {

torch::Tensor to_tensor(RgbImage&& image) {
  auto* owner = new PixelBuffer(std::move(image.pixels));
  return torch::from_blob(
      owner->data(), {image.height, image.width, image.channels},
      [owner](void*) { delete owner; }, torch::kUInt8);
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

}  // namespace rd
