#include "model/sentencepiece_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "common/error.h"

namespace rd {
namespace {

struct ShimApi {
  void* (*load)(const char*, char*, int);
  void (*free)(void*);
  int (*piece_size)(void*);
  int (*special_id)(void*, int);
  int (*encode)(void*, const char*, int, int*, int);
  int (*id_to_piece)(void*, int, char*, int);
  int (*decode)(void*, const int*, int, char*, int);
};

// The shim is looked for next to the running program, then at the path the
// build recorded.
std::string shim_path() {
  const char* name = "libread_sentencepiece_shim.so";
  if (const char* env = std::getenv("READ_SENTENCEPIECE_SHIM"); env && *env) return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && std::filesystem::exists(exe.parent_path() / name))
    return (exe.parent_path() / name).string();
  return READ_SENTENCEPIECE_SHIM_PATH;
}

const ShimApi& api() {
  static ShimApi a;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string path = shim_path();
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    READ_CHECK(lib, "cannot load the SentencePiece shim ", path, ": ", dlerror());
    auto sym = [&](const char* s) {
      void* p = dlsym(lib, s);
      READ_CHECK(p, path, ": missing symbol ", s);
      return p;
    };
    a.load = reinterpret_cast<decltype(a.load)>(sym("rd_sp_load"));
    a.free = reinterpret_cast<decltype(a.free)>(sym("rd_sp_free"));
    a.piece_size = reinterpret_cast<decltype(a.piece_size)>(sym("rd_sp_piece_size"));
    a.special_id = reinterpret_cast<decltype(a.special_id)>(sym("rd_sp_special_id"));
    a.encode = reinterpret_cast<decltype(a.encode)>(sym("rd_sp_encode"));
    a.id_to_piece = reinterpret_cast<decltype(a.id_to_piece)>(sym("rd_sp_id_to_piece"));
    a.decode = reinterpret_cast<decltype(a.decode)>(sym("rd_sp_decode"));
  });
  return a;
}

}  // namespace

SentencePiece::SentencePiece(const std::string& model_path) {
  char err[512] = {0};
  handle_ = api().load(model_path.c_str(), err, sizeof err);
  READ_CHECK(handle_, model_path, ": cannot load SentencePiece model: ", err);
}

SentencePiece::~SentencePiece() {
  if (handle_) api().free(handle_);
}

int SentencePiece::piece_size() const { return api().piece_size(handle_); }
int SentencePiece::unk_id() const { return api().special_id(handle_, 0); }
int SentencePiece::bos_id() const { return api().special_id(handle_, 1); }
int SentencePiece::eos_id() const { return api().special_id(handle_, 2); }

std::vector<int64_t> SentencePiece::encode(const std::string& text) const {
  // A piece covers at least one byte (or is the dummy prefix): size + 2 is enough.
  std::vector<int> ids(text.size() + 2);
  int n = api().encode(handle_, text.data(), static_cast<int>(text.size()), ids.data(),
                       static_cast<int>(ids.size()));
  READ_CHECK(n >= 0 && n <= static_cast<int>(ids.size()), "SentencePiece encode failed");
  return std::vector<int64_t>(ids.begin(), ids.begin() + n);
}

std::string SentencePiece::id_to_piece(int64_t id) const {
  char buf[256];
  api().id_to_piece(handle_, static_cast<int>(id), buf, sizeof buf);
  return buf;
}

std::string SentencePiece::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> v(ids.begin(), ids.end());
  std::string out(64 + ids.size() * 32, '\0');
  int n = api().decode(handle_, v.data(), static_cast<int>(v.size()), out.data(),
                       static_cast<int>(out.size()));
  READ_CHECK(n < static_cast<int>(out.size()), "SentencePiece decode: output too long");
  out.resize(n);
  return out;
}

}  // namespace rd
