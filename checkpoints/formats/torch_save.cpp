#include "checkpoints/formats/torch_save.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>

#include "common/error.h"

namespace rd {
using pickle::Kind;
using pickle::Value;

namespace {

// The globals a torch.save of weights may contain (see the header).
const std::map<std::string, torch::Dtype>& storage_types() {
  static const std::map<std::string, torch::Dtype> m = {
      {"FloatStorage", torch::kFloat32}, {"HalfStorage", torch::kFloat16},
      {"BFloat16Storage", torch::kBFloat16}, {"DoubleStorage", torch::kFloat64},
      {"LongStorage", torch::kInt64},    {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},
      {"ByteStorage", torch::kUInt8},    {"BoolStorage", torch::kBool}};
  return m;
}

bool allowed_global(const std::string& module, const std::string& name) {
  if (module == "torch") return storage_types().count(name) || name == "Tensor";
  return (module == "collections" && name == "OrderedDict") ||
         (module == "torch._utils" &&
          (name == "_rebuild_tensor_v2" || name == "_rebuild_tensor" || name == "_rebuild_parameter")) ||
         (module == "torch._tensor" && name == "_rebuild_from_type_v2") ||
         (module == "torch.jit._pickle" && name == "restore_type_tag") ||
         (module == "torch.nn.parameter" && name == "Parameter");
}

std::string c10_message(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  return m.substr(0, m.find('\n'));
}

// Shape or stride tuple -> int64s, each in [0, 2^40].
std::vector<int64_t> dims(const Value& v, const std::string& what) {
  std::vector<int64_t> out;
  for (const Value* d : v.as_list(what)) {
    int64_t x = d->as_int(what);
    READ_CHECK(x >= 0 && x <= (int64_t{1} << 40), what, ": entry ", x, " out of range");
    out.push_back(x);
  }
  READ_CHECK(out.size() <= 64, what, ": ", out.size(), " dimensions");
  return out;
}

}  // namespace

struct TorchSaveFile::Storages {
  struct Entry {
    c10::Storage storage;
    torch::Dtype dtype;
    int64_t numel;
    bool given = false;  // handed out as a tensor's own memory
  };
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  std::map<std::string, Entry> loaded;
};

TorchSaveFile::TorchSaveFile(const std::string& path) : path_(path), storages_(new Storages) {
  {
    std::ifstream f(path, std::ios::binary);
    READ_CHECK(f, path, ": cannot open");
  }
  READ_CHECK(looks_like_torch_save(path), path,
             ": not a torch.save zip archive (no zip signature; files from PyTorch < 1.6 "
             "must be re-saved with a newer torch.save)");
  std::string pkl;
  try {
    storages_->zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
    READ_CHECK(storages_->zip->hasRecord("data.pkl"), path, ": archive has no data.pkl record");
    if (storages_->zip->hasRecord("byteorder")) {
      auto [ptr, n] = storages_->zip->getRecord("byteorder");
      std::string order(static_cast<const char*>(ptr.get()), n);
      READ_CHECK(order == "little", path, ": byteorder '", order, "' is not supported");
    }
    auto [ptr, n] = storages_->zip->getRecord("data.pkl");
    pkl.assign(static_cast<const char*>(ptr.get()), n);
  } catch (const c10::Error& e) {
    fail(path, ": not a readable torch.save archive: ", c10_message(e));
  }
  doc_ = pickle::parse(pkl, path + ":data.pkl", allowed_global);
}

TorchSaveFile::~TorchSaveFile() = default;

bool TorchSaveFile::is_tensor(const Value& v) {
  if (v.kind != Kind::Object) return false;
  std::string g = v.global_name();
  return g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor" ||
         g == "torch._utils._rebuild_parameter" || g == "torch._tensor._rebuild_from_type_v2";
}

torch::Tensor TorchSaveFile::tensor(const Value& v) const { return rebuild(v, 0); }

torch::Tensor TorchSaveFile::rebuild(const Value& v, int depth) const {
  const std::string where = path_ + ": tensor " + v.repr(80);
  READ_CHECK(is_tensor(v), where, ": not a tensor");
  READ_CHECK(depth < 4, where, ": tensor rebuilt from a tensor rebuilt from ... (", depth, " levels)");
  const std::string g = v.global_name();
  const auto& args = v.args->items;
  if (g == "torch._utils._rebuild_parameter") {  // (data, requires_grad, backward_hooks)
    READ_CHECK(args.size() >= 1 && is_tensor(*args[0]), where, ": _rebuild_parameter needs a tensor");
    return rebuild(*args[0], depth + 1);
  }
  if (g == "torch._tensor._rebuild_from_type_v2") {  // (func, type, args, state): func(*args)
    READ_CHECK(args.size() == 4 && args[0]->kind == Kind::Global && args[2]->kind == Kind::Tuple,
               where, ": malformed _rebuild_from_type_v2");
    Value call;
    call.kind = Kind::Object;
    call.callable = args[0];
    call.args = args[2];
    READ_CHECK(is_tensor(call) && call.global_name() != g, where, ": _rebuild_from_type_v2 of ",
               args[0]->global_name());
    return rebuild(call, depth + 1);
  }
  // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
  // or the older _rebuild_tensor(storage, offset, size, stride).
  READ_CHECK(args.size() >= 4, where, ": ", args.size(), " arguments, expected at least 4");
  const Value& pid_node = *args[0];
  READ_CHECK(pid_node.kind == Kind::PersistentId, where, ": storage is not a persistent id");
  const auto& pid = pid_node.pid->as_list(where + " persistent id");
  READ_CHECK(pid.size() >= 5 && pid[0]->kind == Kind::Str && pid[0]->str == "storage" &&
                 pid[1]->kind == Kind::Global && pid[2]->kind == Kind::Str,
             where, ": persistent id is not ('storage', type, key, location, numel)");
  auto dt = storage_types().find(pid[1]->name);
  READ_CHECK(pid[1]->module == "torch" && dt != storage_types().end(), where,
             ": unsupported storage type ", pid[1]->global_name());
  const std::string& key = pid[2]->str;
  const int64_t storage_numel = pid[4]->as_int(where + " storage size");
  READ_CHECK(storage_numel >= 0, where, ": negative storage size");

  auto it = storages_->loaded.find(key);
  if (it == storages_->loaded.end()) {
    const std::string record = "data/" + key;
    at::DataPtr ptr;
    size_t nbytes = 0;
    try {
      READ_CHECK(storages_->zip->hasRecord(record), path_, ": missing storage record '", record, "'");
      std::tie(ptr, nbytes) = storages_->zip->getRecord(record);
    } catch (const c10::Error& e) {
      fail(path_, ": cannot read storage record '", record, "': ", c10_message(e));
    }
    const size_t elem = c10::elementSize(dt->second);
    READ_CHECK(static_cast<uint64_t>(storage_numel) <= nbytes / elem, path_, ": storage record '",
               record, "' has ", nbytes, " bytes, the pickle says ", storage_numel, " x ",
               dtype_to_safetensors(dt->second), " (truncated?)");
    Storages::Entry e{c10::Storage(c10::Storage::use_byte_size_t(), nbytes, std::move(ptr),
                                   /*allocator=*/nullptr, /*resizable=*/false),
                      dt->second, storage_numel};
    it = storages_->loaded.emplace(key, std::move(e)).first;
  }
  Storages::Entry& st = it->second;
  READ_CHECK(st.dtype == dt->second && st.numel == storage_numel, where, ": storage '", key,
             "' is used with two different types or sizes");

  const int64_t offset = args[1]->as_int(where + " storage offset");
  std::vector<int64_t> sizes = dims(*args[2], where + " size");
  std::vector<int64_t> strides = dims(*args[3], where + " stride");
  READ_CHECK(sizes.size() == strides.size(), where, ": ", sizes.size(), " sizes but ",
             strides.size(), " strides");
  READ_CHECK(offset >= 0 && offset <= st.numel, where, ": storage offset ", offset,
             " outside the storage of ", st.numel, " elements");
  // Bounds: the last element offset + sum((size-1) * stride) must lie inside
  // the storage (sizes and strides are <= 2^40, so with <= 64 dims this cannot
  // overflow when computed in __int128).
  __int128 numel = 1, last = offset;
  for (size_t d = 0; d < sizes.size(); ++d) {
    numel *= sizes[d];
    if (numel > (__int128{1} << 62)) fail(where, ": too many elements");
    if (sizes[d] > 0) last += static_cast<__int128>(sizes[d] - 1) * strides[d];
  }
  READ_CHECK(numel == 0 || last < st.numel, where, ": view (offset ", offset, ", size ",
             c10::IntArrayRef(sizes), ", stride ", c10::IntArrayRef(strides),
             ") reaches past its storage of ", st.numel, " elements");

  torch::Tensor t = torch::empty({0}, torch::TensorOptions().dtype(st.dtype))
                        .set_(st.storage, offset, sizes, strides);
  const bool whole = offset == 0 && t.is_contiguous() &&
                     static_cast<size_t>(t.numel()) * t.element_size() == st.storage.nbytes();
  if (whole && !st.given) {
    st.given = true;
    return t;
  }
  return t.clone(at::MemoryFormat::Contiguous);
}

namespace {
struct Flattener {
  const TorchSaveFile& file;
  TorchSaveContents out;
  size_t budget;

  void add(const std::string& name, const Value& v, int depth) {
    READ_CHECK(depth <= 64, file.path(), ": '", name, "': nesting deeper than 64 (cyclic pickle?)");
    READ_CHECK(budget-- > 0, file.path(), ": the pickle expands to too many values (shared subtrees?)");
    auto join = [&](const std::string& k) { return name.empty() ? k : name + "." + k; };
    if (TorchSaveFile::is_tensor(v)) {
      put(name.empty() ? "tensor" : name, file.tensor(v));
    } else if (v.global_name() == "torch.jit._pickle.restore_type_tag") {
      // LibTorch's torch::pickle_save wraps typed containers: restore_type_tag(value, "Dict[str, Tensor]").
      READ_CHECK(v.args->items.size() == 2, file.path(), ": '", name, "': malformed restore_type_tag");
      add(name, *v.args->items[0], depth + 1);
    } else if (v.is_dict()) {
      // An OrderedDict's BUILD state (a state dict's `_metadata` versions) is
      // dropped: it holds no weights.
      for (const auto& [k, x] : v.entries) {
        std::string key;
        if (k->kind == Kind::Str) key = k->str;
        else if (k->kind == Kind::Int) key = std::to_string(k->i);
        else fail(file.path(), ": '", name, "': dict key ", k->repr(40), " is not a str or int");
        add(join(key), *x, depth + 1);
      }
    } else if (v.kind == Kind::List || v.kind == Kind::Tuple) {
      for (size_t k = 0; k < v.items.size(); ++k) add(join(std::to_string(k)), *v.items[k], depth + 1);
    } else if (v.kind == Kind::None || v.kind == Kind::Bool || v.kind == Kind::Int ||
               v.kind == Kind::Float || v.kind == Kind::Str || v.kind == Kind::Bytes) {
      READ_CHECK(!out.tensors.count(name) && out.other.emplace(name, v.repr(200)).second,
                 file.path(), ": the name '", name, "' occurs twice");
    } else {
      fail(file.path(), ": '", name, "': unsupported value ", v.repr(80));
    }
  }
  void put(const std::string& name, torch::Tensor t) {
    READ_CHECK(!out.other.count(name) && out.tensors.emplace(name, std::move(t)).second,
               file.path(), ": the name '", name, "' occurs twice");
  }
};
}  // namespace

TorchSaveContents TorchSaveFile::contents() const {
  Flattener f{*this, {}, 16 * doc_.num_values() + 1024};
  f.add("", root(), 0);
  return std::move(f.out);
}

StateDict load_torch_save(const std::string& path) {
  return TorchSaveFile(path).contents().tensors;
}

bool looks_like_torch_save(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[4] = {};
  f.read(sig, 4);
  return f.gcount() == 4 && std::memcmp(sig, "PK\x03\x04", 4) == 0;
}

}  // namespace rd
