// The buffer cache recycles large blocks (same size class -> same block),
// respects its retention limit, and cached tensors return their storage when
// the last reference goes, from any thread.
#include <gtest/gtest.h>

#include <thread>

#include "data/buffer_cache.h"
#include "common/error.h"
#include "data/sam_preprocess.h"

namespace rd {
namespace {

TEST(BufferCache, ReusesBlocksOfTheSameSizeClass) {
  set_buffer_cache_limit(size_t(64) << 20);
  void* a = buffer_cache_alloc(3 << 20);
  buffer_cache_free(a, 3 << 20);
  EXPECT_GE(buffer_cache_retained_bytes(), size_t(3) << 20);
  void* b = buffer_cache_alloc((3 << 20) - 1000);  // same class (steps of 1/8 power of two)
  EXPECT_EQ(a, b);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 64, 0u);
  buffer_cache_free(b, (3 << 20) - 1000);
  void* small = buffer_cache_alloc(100);  // below the cached sizes: plain malloc
  buffer_cache_free(small, 100);
}

TEST(BufferCache, LimitIsRespected) {
  set_buffer_cache_limit(size_t(4) << 20);
  void* a = buffer_cache_alloc(3 << 20);
  void* b = buffer_cache_alloc(3 << 20);
  buffer_cache_free(a, 3 << 20);
  buffer_cache_free(b, 3 << 20);  // over the limit: released
  EXPECT_LE(buffer_cache_retained_bytes(), size_t(4) << 20);
  set_buffer_cache_limit(0);
  EXPECT_EQ(buffer_cache_retained_bytes(), 0u);
  set_buffer_cache_limit(size_t(512) << 20);
}

TEST(BufferCache, CachedTensorsReturnTheirStorageFromAnyThread) {
  set_buffer_cache_limit(size_t(64) << 20);
  const size_t before = buffer_cache_retained_bytes();
  torch::Tensor t = cached_empty({3, 512, 512}, torch::kFloat32);
  EXPECT_TRUE(t.is_contiguous());
  void* p = t.data_ptr();
  std::thread([t = std::move(t)]() mutable { t.fill_(1.0f); t.reset(); }).join();
  EXPECT_GE(buffer_cache_retained_bytes(), before + size_t(3) * 512 * 512 * 4);
  torch::Tensor u = cached_empty({3, 512, 512}, torch::kFloat32);
  EXPECT_EQ(u.data_ptr(), p);
}

TEST(BufferCache, SamNormalizeIntoABatchSlice) {
  RgbImage im(20, 30, 3);
  for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = uint8_t(i * 7);
  SamPreprocessConfig cfg;
  cfg.target_length = 32;
  torch::Tensor batch = torch::full({2, 3, 32, 32}, 5.0f);
  sam_normalize_pad_into(im, cfg, batch[1]);
  EXPECT_TRUE(torch::equal(batch[1], sam_normalize_pad(im, cfg)));
  EXPECT_TRUE(torch::equal(batch[0], torch::full({3, 32, 32}, 5.0f)));
  EXPECT_THROW(sam_normalize_pad_into(im, cfg, batch.transpose(2, 3)[0]), Error);
}

}  // namespace
}  // namespace rd
