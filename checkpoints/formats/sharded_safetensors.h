// Writing a Hugging Face sharded safetensors checkpoint, the layout
// save_pretrained(safe_serialization=True) produces and load_state_dict
// reads: <folder>/model-0000k-of-0000n.safetensors plus
// <folder>/model.safetensors.index.json
//   {"metadata": {"total_size": <bytes of tensor data>},
//    "weight_map": {"<key>": "model-0000k-of-0000n.safetensors", ...}}.
// Shards are filled in key order like transformers' shard_checkpoint: a new
// shard starts when the next tensor would push the current one past
// max_shard_bytes (a tensor larger than that gets a shard of its own). The
// index is written even for a single shard.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "checkpoints/formats/state_dict.h"

namespace rd {

struct ShardedWrite {
  std::vector<std::string> files;  // shard file names, in order
  uint64_t total_bytes = 0;        // tensor data (the index's total_size)
};

// Tensors are converted to `dtype` shard by shard (undefined: kept as they are).
ShardedWrite save_sharded_safetensors(const std::string& folder, const StateDict& tensors, uint64_t max_shard_bytes,
                                      c10::optional<torch::Dtype> dtype = c10::nullopt,
                                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace rd
