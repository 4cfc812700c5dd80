#include "data/buffer_cache.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/error.h"

namespace rd {

namespace {

constexpr size_t kMinCached = size_t(64) << 10;

size_t size_class(size_t bytes) {
  if (bytes < kMinCached) return (bytes + 63) / 64 * 64;
  const int e = 63 - __builtin_clzll(bytes);  // floor(log2)
  const size_t step = size_t(1) << (e - 3);
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;  // by size class
  size_t retained = 0, limit = size_t(512) << 20;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: blocks may be freed during static teardown
  return *c;
}

}  // namespace

void* buffer_cache_alloc(size_t bytes) {
  const size_t cls = size_class(std::max<size_t>(bytes, 1));
  if (cls >= kMinCached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free.find(cls);
    if (it != c.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.retained -= cls;
      return p;
    }
  }
  void* p = std::aligned_alloc(64, cls);
  if (!p) fail("out of memory allocating ", cls, " bytes for image data");
  return p;
}

void buffer_cache_free(void* p, size_t bytes) {
  if (!p) return;
  const size_t cls = size_class(std::max<size_t>(bytes, 1));
  if (cls >= kMinCached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.retained + cls <= c.limit) {
      c.free[cls].push_back(p);
      c.retained += cls;
      return;
    }
  }
  std::free(p);
}

void set_buffer_cache_limit(size_t max_retained_bytes) {
  Cache& c = cache();
  std::vector<void*> release;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.limit = max_retained_bytes;
    for (auto& [cls, list] : c.free)
      while (c.retained > c.limit && !list.empty()) {
        release.push_back(list.back());
        list.pop_back();
        c.retained -= cls;
      }
  }
  for (void* p : release) std::free(p);
}

size_t buffer_cache_retained_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.retained;
}

torch::Tensor cached_empty(at::IntArrayRef shape, torch::ScalarType dtype) {
  int64_t numel = 1;
  for (int64_t d : shape) {
    READ_CHECK(d >= 0, "cached_empty: negative dimension in ", shape);
    numel *= d;
  }
  const size_t bytes = size_t(numel) * c10::elementSize(dtype);
  void* p = buffer_cache_alloc(bytes);
  return torch::from_blob(
      p, shape, [bytes](void* q) { buffer_cache_free(q, bytes); },
      torch::TensorOptions().dtype(dtype));
}

}  // namespace rd
