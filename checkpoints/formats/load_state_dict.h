// rd::load_state_dict(path): one entry point for every weight layout we meet.
// `path` is a file (.safetensors, or a torch.save archive such as .pth/.bin,
// told apart by content) or a Hugging Face folder holding, in this order of
// preference:
//   model.safetensors.index.json + model-0000k-of-0000n.safetensors
//   model.safetensors
//   pytorch_model.bin.index.json + pytorch_model-0000k-of-0000n.bin
//   pytorch_model.bin
//   adapter_model.safetensors, adapter_model.bin   (PEFT adapters)
// A path to an index file itself also works. A sharded checkpoint is
// validated: every shard named by the index exists, every indexed key is in
// its shard, no shard holds a key the index does not list, no key twice.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "checkpoints/formats/state_dict.h"

namespace rd {

struct WeightFiles {
  std::string path;                 // as given
  std::vector<std::string> files;   // full paths, in load order
  std::string index;                // the index file (sharded only)
  std::map<std::string, std::string> weight_map;  // key -> shard file name (sharded only)
};

// Resolves a file or folder to its weight files (shards exist; index parsed).
WeightFiles find_weight_files(const std::string& path);

// One weight file, safetensors or torch.save (chosen by content).
StateDict load_weight_file(const std::string& file);

// Loads the files one by one (at most one shard in memory), validating each
// shard against the index, and hands each to `fn`.
void for_each_weight_file(const WeightFiles& w,
                          const std::function<void(const std::string& file, StateDict& tensors)>& fn);

// Every tensor of the checkpoint at `path`.
StateDict load_state_dict(const std::string& path);

}  // namespace rd
