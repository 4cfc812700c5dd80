// Helpers for the formats tests: temporary paths, raw file IO, a byte-level
// pickle writer and torch.save archive assembly with LibTorch's own zip writer.
#pragma once
#include <caffe2/serialize/inline_container.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace rd::testing {

inline std::filesystem::path temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("read_formats_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), bytes.size());
}

// Assembles pickle protocol-2 opcodes byte by byte.
struct PickleWriter {
  std::string b = std::string("\x80\x02", 2);
  PickleWriter& op(char c) { b += c; return *this; }
  PickleWriter& mark() { return op('('); }
  PickleWriter& str(const std::string& s) {
    op('X');
    for (int k = 0; k < 4; ++k) b += static_cast<char>((s.size() >> (8 * k)) & 0xff);
    b += s;
    return *this;
  }
  PickleWriter& integer(int64_t v) {  // LONG1 with 8 bytes: any int64
    b += '\x8a';
    b += '\x08';
    for (int k = 0; k < 8; ++k) b += static_cast<char>((static_cast<uint64_t>(v) >> (8 * k)) & 0xff);
    return *this;
  }
  PickleWriter& global(const std::string& module, const std::string& name) {
    b += 'c' + module + '\n' + name + '\n';
    return *this;
  }
  PickleWriter& ints_tuple(const std::vector<int64_t>& xs) {
    mark();
    for (int64_t x : xs) integer(x);
    return op('t');
  }
  // _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
  PickleWriter& tensor(const std::string& storage_type, const std::string& key, int64_t numel,
                       int64_t offset, const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel).op('t').op('Q');
    integer(offset).ints_tuple(size).ints_tuple(stride).op('\x89');
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
  std::string done() { return b + "."; }
};

// Writes a torch.save-style zip: <archive>/data.pkl + <archive>/data/<key>.
inline void write_torch_archive(const std::string& path, const std::string& pkl,
                                const std::map<std::string, std::string>& storages) {
  caffe2::serialize::PyTorchStreamWriter w(path);
  w.writeRecord("data.pkl", pkl.data(), pkl.size());
  for (const auto& [key, bytes] : storages) w.writeRecord("data/" + key, bytes.data(), bytes.size());
  w.writeEndOfFile();
}

inline std::string tensor_bytes(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

}  // namespace rd::testing
