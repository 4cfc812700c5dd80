#include "checkpoints/ckpt_hf_flags.h"

#include "common/error.h"

DEFINE_string(hf_out, "", "the READ model folder to write (Hugging Face layout; must not exist or be empty)");
DEFINE_string(config, "", "the training config YAML (configs/*.yaml) giving the model section and train.seed");
DEFINE_string(dtype, "", "dtype of the written weights: fp32 | bf16 | fp16 (default: the config's model.precision)");
DEFINE_int64(max_shard_mb, 10000, "largest weight shard in MB (10^6 bytes; transformers' default is 10GB)");

namespace rd {

const char* const kCkptHfFlagsFile = __FILE__;

torch::Dtype weight_dtype(const std::string& d) {
  if (d == "fp32" || d == "float32") return torch::kFloat32;
  if (d == "bf16" || d == "bfloat16") return torch::kBFloat16;
  if (d == "fp16" || d == "float16") return torch::kFloat16;
  fail("weight dtype '", d, "': expected fp32, bf16 or fp16");
}

ReadHfFolderOptions hf_folder_options() {
  ReadHfFolderOptions o;
  READ_CHECK(!FLAGS_hf_out.empty(), "--hf_out FOLDER is required");
  o.out = FLAGS_hf_out;
  if (!FLAGS_dtype.empty()) o.dtype = weight_dtype(FLAGS_dtype);
  READ_CHECK(FLAGS_max_shard_mb > 0, "--max_shard_mb must be positive, got ", FLAGS_max_shard_mb);
  o.max_shard_bytes = static_cast<uint64_t>(FLAGS_max_shard_mb) * 1000000ull;
  return o;
}

}  // namespace rd
