// safetensors: 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the raw little-endian data. Reading memory-maps the file; the header
// is untrusted and validated (bounded length, valid JSON, known dtypes,
// offsets in range, no overlaps or gaps, size == dtype x shape).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "checkpoints/formats/state_dict.h"

namespace rd {

struct SafetensorsEntry {
  std::string name;
  torch::Dtype dtype;
  std::string dtype_name;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // 100 MiB

  explicit SafetensorsFile(const std::string& path);  // mmaps and validates
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }  // file order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  const SafetensorsEntry& entry(const std::string& name) const;

  // A tensor that owns a copy of the bytes (safe after the file is closed).
  torch::Tensor tensor(const std::string& name) const;
  StateDict all() const;

 private:
  std::string path_;
  int fd_ = -1;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0, data_start_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

StateDict load_safetensors(const std::string& path);

// Writes tensors (made contiguous, on CPU) in the given order; the file is
// written to `path.tmp` and renamed, so a reader never sees half a file.
void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace rd
