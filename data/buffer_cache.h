// A process-wide cache of large memory blocks, recycled by size class.
//
// Each training sample allocates a decoded image (~1 MB), a resized image
// (~2.4 MB), a 12 MB SAM input and a 1.3 MB CLIP input. Allocated fresh,
// blocks this large come from mmap (or from malloc arenas that are created
// and unmapped again), so every sample pays thousands of page faults and the
// kernel's zeroing of the pages: more than the preprocessing itself. Blocks
// freed here stay resident for the next sample, in whatever thread.
//
// Blocks under 64 KB go straight to malloc. Larger ones are rounded up to a
// size class (steps of 1/8 of a power of two, so at most 12.5% larger) and
// kept on a free list when released, up to a total (default 512 MB) beyond
// which they go back to malloc.
#pragma once
#include <torch/torch.h>

#include <cstddef>

namespace rd {

void* buffer_cache_alloc(size_t bytes);         // 64-byte aligned; throws rd::Error on OOM
void buffer_cache_free(void* p, size_t bytes);  // `bytes` as passed to buffer_cache_alloc

void set_buffer_cache_limit(size_t max_retained_bytes);
size_t buffer_cache_retained_bytes();

// An uninitialised contiguous CPU tensor whose storage comes from the cache
// and returns to it when the last reference goes.
torch::Tensor cached_empty(at::IntArrayRef shape, torch::ScalarType dtype);

}  // namespace rd
