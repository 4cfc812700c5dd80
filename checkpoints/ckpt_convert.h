// read_ckpt conversions of training checkpoints (checkpoints/training_checkpoint.h):
//   consolidate DIR --out F.safetensors [--optimizer]
//       every trainable weight (fp32) in one safetensors file, under its
//       parameter name; with --optimizer also the AdamW state consolidated
//       from every rank's partition as `optimizer.master.<name>`,
//       `optimizer.exp_avg.<name>`, `optimizer.exp_avg_sq.<name>` (metadata:
//       step, optimizer_step).
//   reshard DIR --world_size M --out DIR2
//       DIR2/step_<N> + DIR2/latest: the same checkpoint partitioned for M
//       ranks, so a job of M ranks resumes from DIR2 (RNG states dropped).
// DIR is a checkpoint root (its `latest` is used) or a step_<N> directory.
// --out is shared (defined in ckpt_convert.cpp); --optimizer belongs to
// consolidate (ckpt_consolidate.cpp), --world_size to reshard (ckpt_reshard.cpp).
#pragma once
#include <gflags/gflags.h>

#include <string>

#include "checkpoints/ckpt_cli.h"
#include "checkpoints/formats/state_dict.h"

DECLARE_string(out);

namespace rd {

extern const char* const kCkptConvertFlagsFile;  // __FILE__ of --out
extern const CkptCommand kCkptConsolidate;
extern const CkptCommand kCkptReshard;

}  // namespace rd
