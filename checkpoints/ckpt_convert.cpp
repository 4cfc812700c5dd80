#include "checkpoints/ckpt_convert.h"

DEFINE_string(out, "", "consolidate: the .safetensors file to write; reshard: the checkpoint directory to write");

namespace rd {

const char* const kCkptConvertFlagsFile = __FILE__;

}  // namespace rd
