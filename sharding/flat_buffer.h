// The flat layout of the trainable parameters that the ZeRO optimizer shards:
// parameters laid end to end in the given order (offsets in elements), the
// total padded with zeros to a multiple of the world size, and rank r owning
// the contiguous partition [r * P, (r + 1) * P), P = padded / world_size.
//
// The layout (names, shapes, offsets, world size) is what a checkpoint needs
// to re-shard optimizer state to another world size; to_json()/from_json()
// carry it (a string, so it fits safetensors metadata).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rd {

struct FlatParam {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numel = 0;
  int64_t offset = 0;  // first element in the flat buffer
  bool operator==(const FlatParam& o) const {
    return name == o.name && shape == o.shape && numel == o.numel && offset == o.offset;
  }
};

struct PartitionLayout {
  int world_size = 1;
  int64_t total_numel = 0;      // sum of the parameters' sizes
  int64_t padded_numel = 0;     // total rounded up to a multiple of world_size
  int64_t partition_numel = 0;  // padded / world_size
  std::vector<FlatParam> params;

  static PartitionLayout make(
      const std::vector<std::pair<std::string, std::vector<int64_t>>>& params, int world_size);
  // The same parameters partitioned for another world size.
  PartitionLayout resharded(int new_world_size) const;

  int64_t partition_begin(int rank) const { return rank * partition_numel; }
  const FlatParam& param(const std::string& name) const;  // error naming it if absent
  bool operator==(const PartitionLayout& o) const;
  bool operator!=(const PartitionLayout& o) const { return !(*this == o); }
  // Hash of names, shapes and world size, to check ranks agree.
  uint64_t fingerprint() const;

  std::string to_json() const;
  static PartitionLayout from_json(const std::string& json);

  // f(param index, offset inside the parameter, offset inside the flat
  // buffer, count) for every parameter piece of the flat range [begin, end).
  template <typename F>
  void for_each_piece(int64_t begin, int64_t end, F&& f) const;
};

// dst (1-D, contiguous) = the flat range [begin, begin + dst.numel()) of
// `src` (one tensor per layout parameter, any dtype; an undefined tensor and
// the padding read as zeros).
void gather_flat(const PartitionLayout& layout, const std::vector<torch::Tensor>& src,
                 int64_t begin, torch::Tensor dst);
// The flat range [begin, begin + src.numel()) of `src` written into `dst`
// (one tensor per layout parameter; converted to each one's dtype). Writes
// without recording autograd history.
void scatter_flat(const PartitionLayout& layout, const torch::Tensor& src, int64_t begin,
                  const std::vector<torch::Tensor>& dst);

template <typename F>
void PartitionLayout::for_each_piece(int64_t begin, int64_t end, F&& f) const {
  end = std::min(end, total_numel);
  if (begin >= end) return;
  // First parameter ending after `begin`.
  size_t i =
      std::upper_bound(params.begin(), params.end(), begin,
                       [](int64_t at, const FlatParam& p) { return at < p.offset + p.numel; }) -
      params.begin();
  for (; i < params.size() && params[i].offset < end; ++i) {
    const FlatParam& p = params[i];
    const int64_t lo = std::max(begin, p.offset), hi = std::min(end, p.offset + p.numel);
    if (hi > lo) f(i, lo - p.offset, lo, hi - lo);
  }
}

}  // namespace rd
