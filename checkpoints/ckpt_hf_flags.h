// Flags shared by the read_ckpt subcommands that write a READ model folder in
// Hugging Face layout (import, export-hf); see checkpoints/read_hf_folder.h.
#pragma once
#include <gflags/gflags.h>

#include <string>

#include "checkpoints/read_hf_folder.h"

DECLARE_string(hf_out);
DECLARE_string(config);
DECLARE_string(dtype);
DECLARE_int64(max_shard_mb);

namespace rd {

extern const char* const kCkptHfFlagsFile;  // __FILE__ of the definitions

// --hf_out, --dtype (unset when not given) and --max_shard_mb as folder
// options; errors name the flag.
ReadHfFolderOptions hf_folder_options();

// fp32 | bf16 | fp16 (also float32, bfloat16, float16): a config's
// model.precision or --dtype.
torch::Dtype weight_dtype(const std::string& name);

}  // namespace rd
