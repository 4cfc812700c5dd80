// Weights of a Hugging Face model folder (or a single weight file) as one
// StateDict.
#pragma once
#include <string>

#include "checkpoints/formats/state_dict.h"

namespace rd {

// Interim: reads model.safetensors, sharded model-*.safetensors (via
// model.safetensors.index.json) or a single .safetensors file; torch.save
// formats come with rd::load_state_dict from checkpoints/formats.
StateDict load_hf_weights(const std::string& path_or_folder);

}  // namespace rd
