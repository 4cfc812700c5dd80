// The image buffer of the preprocessing pipeline: interleaved uint8 (HWC),
// what decoders produce, what READ's reference holds after cv2.imread +
// BGR2RGB, and what PIL resizes. Pixels live in a std::vector whose elements
// are left uninitialised on resize (every producer writes all of them) and
// whose memory is recycled, so a decoder, the resampler and the loader hand
// images on without copies, clearing or page faults.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "data/buffer_cache.h"

namespace rd {

// Allocator of pixel buffers: elements are default-initialised (no zeroing
// of uint8_t) and large blocks come from / return to the buffer cache
// (buffer_cache.h), so per-sample images do not fault in fresh pages.
template <typename T>
struct PixelAllocator {
  using value_type = T;
  PixelAllocator() = default;
  template <typename U>
  PixelAllocator(const PixelAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(buffer_cache_alloc(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { buffer_cache_free(p, n * sizeof(T)); }
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible<U>::value) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <typename U>
  bool operator==(const PixelAllocator<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const PixelAllocator<U>&) const noexcept { return false; }
};

using PixelBuffer = std::vector<uint8_t, PixelAllocator<uint8_t>>;

struct RgbImage {
  int height = 0, width = 0, channels = 3;
  PixelBuffer pixels;  // height * width * channels, row-major HWC

  RgbImage() = default;
  RgbImage(int h, int w, int c = 3) : height(h), width(w), channels(c), pixels(size_t(h) * w * c) {}
  bool empty() const { return pixels.empty(); }
  size_t row_bytes() const { return size_t(width) * channels; }
  uint8_t* row(int y) { return pixels.data() + size_t(y) * row_bytes(); }
  const uint8_t* row(int y) const { return pixels.data() + size_t(y) * row_bytes(); }
};

// u8 [H, W, C] tensor that takes over the image's buffer (no copy).
torch::Tensor to_tensor(RgbImage&& image);
// Copies a u8 [H, W, C] tensor (any strides) into an RgbImage.
RgbImage rgb_image_from_tensor(const torch::Tensor& hwc);

}  // namespace rd
