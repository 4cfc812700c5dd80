// torch.save archives (`.pth`, `pytorch_model.bin`, `adapter_model.bin`): a
// zip (read with LibTorch's caffe2::serialize::PyTorchStreamReader) holding
// `<archive>/data.pkl`, the pickled object, and `<archive>/data/<key>`, one
// record per storage. The pickle is read by checkpoints/formats/pickle.h with
// only the globals torch.save emits for weights allowed:
// collections.OrderedDict, torch._utils._rebuild_tensor_v2 /
// _rebuild_parameter, torch._tensor._rebuild_from_type_v2 (of Tensor or
// Parameter), torch.jit._pickle.restore_type_tag (LibTorch's pickle_save)
// and the torch.<Type>Storage classes. Anything else (an optimizer
// state with argparse.Namespace, os.system, ...) is refused with the global's
// name; nothing is ever executed.
//
// Tensors are views (offset, sizes, strides) into storages; every view is
// bounds-checked against its storage. Each returned tensor owns its memory
// (tensors that shared a storage in the file are copied apart).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "checkpoints/formats/pickle.h"
#include "checkpoints/formats/state_dict.h"

namespace rd {

struct TorchSaveContents {
  // Tensors of the pickled object, flattened: nested dict keys and list/tuple
  // indices joined with '.' ("model.layers.0.weight"); a bare tensor is "tensor".
  StateDict tensors;
  // The other leaves (int, float, bool, str, None, bytes), as Python reprs.
  std::map<std::string, std::string> other;
};

class TorchSaveFile {
 public:
  explicit TorchSaveFile(const std::string& path);  // reads the archive and its pickle
  ~TorchSaveFile();
  TorchSaveFile(const TorchSaveFile&) = delete;
  TorchSaveFile& operator=(const TorchSaveFile&) = delete;

  const std::string& path() const { return path_; }
  const pickle::Value& root() const { return doc_.root(); }
  // A tensor rebuilt by _rebuild_tensor_v2 / _rebuild_parameter / _rebuild_from_type_v2.
  static bool is_tensor(const pickle::Value& v);
  torch::Tensor tensor(const pickle::Value& v) const;  // loads its storage record
  TorchSaveContents contents() const;                   // everything, flattened

 private:
  struct Storages;
  torch::Tensor rebuild(const pickle::Value& v, int depth) const;
  std::string path_;
  pickle::Document doc_;
  std::unique_ptr<Storages> storages_;
};

// The tensors of a torch.save file (see TorchSaveContents for the names).
StateDict load_torch_save(const std::string& path);

// True when the file starts like a zip archive (torch.save since PyTorch 1.6).
bool looks_like_torch_save(const std::string& path);

}  // namespace rd
