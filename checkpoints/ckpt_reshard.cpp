#include <gflags/gflags.h>

#include <iostream>

#include "checkpoints/ckpt_convert.h"
#include "checkpoints/training_checkpoint.h"
#include "common/error.h"

DEFINE_int32(world_size, 0, "the number of ranks the new checkpoint is partitioned for");

namespace rd {
namespace {

int run_reshard(const std::vector<std::string>& args) {
  READ_CHECK(!FLAGS_out.empty(), "--out DIR2 is required");
  READ_CHECK(FLAGS_world_size >= 1, "--world_size M (>= 1) is required");
  const std::string written =
      CheckpointManager::write_resharded(CheckpointManager::resolve(args[0]), FLAGS_world_size, FLAGS_out);
  std::cout << "wrote " << written << " for " << FLAGS_world_size << " rank(s)\n";
  return 0;
}

}  // namespace

const CkptCommand kCkptReshard = {
    "reshard", "DIR", "re-partition a training checkpoint for another world size",
    "Verifies the checkpoint DIR, consolidates its ZeRO partitions and writes\n"
    "--out/step_<N> partitioned for --world_size ranks, plus --out/latest, so a job\n"
    "of that many ranks resumes from --out. Per-rank RNG states are not carried over.",
    __FILE__, 1, 1, run_reshard, kCkptConvertFlagsFile};

}  // namespace rd
