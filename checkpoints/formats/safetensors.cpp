#include "checkpoints/formats/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "checkpoints/formats/write_file.h"
#include "common/error.h"

namespace rd {
using nlohmann::json;

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY);
  READ_CHECK(fd_ >= 0, path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  READ_CHECK(::fstat(fd_, &st) == 0, path, ": cannot stat");
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd_);
    fail(path, ": not a safetensors file (", size_, " bytes, shorter than the 8-byte header length)");
  }
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (m == MAP_FAILED) {
    ::close(fd_);
    fail(path, ": mmap failed: ", std::strerror(errno));
  }
  map_ = static_cast<const uint8_t*>(m);
  try {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | map_[i];
    READ_CHECK(n <= kMaxHeaderBytes, path, ": header length ", n, " exceeds the limit of ",
               kMaxHeaderBytes, " bytes");
    READ_CHECK(n <= size_ - 8, path, ": header length ", n, " runs past the end of the file (",
               size_, " bytes): truncated?");
    data_start_ = 8 + n;
    json header;
    try {
      header = json::parse(map_ + 8, map_ + 8 + n);
    } catch (const json::exception& e) {
      fail(path, ": header is not valid JSON: ", e.what());
    }
    READ_CHECK(header.is_object(), path, ": header is not a JSON object");
    const uint64_t data_size = size_ - data_start_;
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const json& v = it.value();
      if (name == "__metadata__") {
        READ_CHECK(v.is_object(), path, ": __metadata__ is not an object");
        for (auto m2 = v.begin(); m2 != v.end(); ++m2) {
          READ_CHECK(m2.value().is_string(), path, ": __metadata__['", m2.key(), "'] is not a string");
          metadata_[m2.key()] = m2.value().get<std::string>();
        }
        continue;
      }
      std::string where = path + ": tensor '" + name + "'";
      READ_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") &&
                     v.contains("data_offsets"),
                 where, ": needs dtype, shape and data_offsets");
      READ_CHECK(v["dtype"].is_string(), where, ": dtype is not a string");
      SafetensorsEntry e;
      e.name = name;
      e.dtype_name = v["dtype"].get<std::string>();
      e.dtype = dtype_from_safetensors(e.dtype_name, where);
      READ_CHECK(v["shape"].is_array(), where, ": shape is not a list");
      uint64_t numel = 1;
      for (const auto& d : v["shape"]) {
        READ_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
                   where, ": shape entries must be non-negative integers");
        uint64_t dim = d.get<uint64_t>();
        READ_CHECK(dim < (1ull << 40) && (dim == 0 || numel <= (1ull << 62) / dim), where,
                   ": shape is too large");
        numel *= dim;
        e.shape.push_back(static_cast<int64_t>(dim));
      }
      const json& off = v["data_offsets"];
      READ_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() &&
                     off[1].is_number_unsigned(),
                 where, ": data_offsets must be two non-negative integers");
      e.begin = off[0].get<uint64_t>();
      e.end = off[1].get<uint64_t>();
      READ_CHECK(e.begin <= e.end && e.end <= data_size, where, ": data_offsets [", e.begin, ", ",
                 e.end, "] out of range (data section is ", data_size, " bytes)");
      uint64_t want = numel * dtype_size(e.dtype);
      READ_CHECK(e.end - e.begin == want, where, ": ", e.end - e.begin, " bytes for ",
                 e.dtype_name, " x ", numel, " elements (expected ", want, ")");
      index_[name] = entries_.size();
      entries_.push_back(std::move(e));
    }
    // Offsets must tile the data section: no overlaps, no gaps.
    std::vector<const SafetensorsEntry*> by_offset;
    for (const auto& e : entries_) by_offset.push_back(&e);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t cursor = 0;
    for (const auto* e : by_offset) {
      READ_CHECK(e->begin >= cursor, path, ": tensor '", e->name, "' overlaps the previous tensor (offset ",
                 e->begin, " < ", cursor, ")");
      READ_CHECK(e->begin == cursor, path, ": gap before tensor '", e->name, "' (bytes ", cursor, "..",
                 e->begin, " unused)");
      cursor = e->end;
    }
    READ_CHECK(cursor == data_size, path, ": ", data_size - cursor,
               " trailing bytes after the last tensor");
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), size_);
    ::close(fd_);
    map_ = nullptr;
    fd_ = -1;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
  if (fd_ >= 0) ::close(fd_);
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = index_.find(name);
  READ_CHECK(it != index_.end(), path_, ": no tensor named '", name, "'");
  return entries_[it->second];
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
  if (e.end > e.begin) std::memcpy(t.data_ptr(), map_ + data_start_ + e.begin, e.end - e.begin);
  return t;
}

StateDict SafetensorsFile::all() const {
  StateDict out;
  for (const auto& e : entries_) out[e.name] = tensor(e.name);
  return out;
}

StateDict load_safetensors(const std::string& path) { return SafetensorsFile(path).all(); }

void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t0] : tensors) {
    READ_CHECK(name != "__metadata__", path, ": a tensor cannot be named __metadata__");
    torch::Tensor t = t0.detach().to(torch::kCPU).contiguous();
    uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", dtype_to_safetensors(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  const std::string tmp = path + ".tmp";
  const uint64_t total = 8 + h.size() + offset;
  WriteFile f(tmp, total);
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((static_cast<uint64_t>(h.size()) >> (8 * i)) & 0xff);
  f.write(len, 8);
  f.write(h.data(), h.size());
  for (const auto& t : data) f.write(t.data_ptr(), t.numel() * t.element_size());
  f.commit(path);
}

}  // namespace rd
