// Resumable training checkpoints (issue 6), written collectively by every
// rank of the job:
//
//   <dir>/step_<N>/
//     zero_rank_<R>_of_<W>.safetensors  rank R's ZeRO partition (fp32 master,
//                                       exp_avg, exp_avg_sq) + its RNG state;
//                                       metadata: step, layout, CRC-32s
//     trainable.safetensors             every trainable weight, consolidated (fp32)
//     trainer_state.json                step, sampler state, best metric ... (the trainer's JSON)
//     layout.json                       the partition layout (names, shapes, offsets, world size)
//     config.yaml, tokenizer/           what the run was started with
//     manifest.json                     CRC-32 and size of every file above
//   <dir>/latest                        "step_<N>", replaced last
//
// Atomic: everything is written under <dir>/.tmp_step_<N>, fsynced, and
// renamed; `latest` is rewritten (write, fsync, rename) only after that, so a
// crash (SIGKILL, full disk) at any point leaves the previous checkpoint and
// `latest` intact. The last keep_last checkpoints are kept.
//
// Failures (a full disk, an unwritable directory) on any rank are agreed on
// collectively: every rank throws rd::Error, the partial .tmp_step_<N> is
// removed and the previous checkpoint and `latest` are untouched. Stale
// .tmp_step_* directories of interrupted saves are removed by the next save.
//
// Loading verifies every checksum. At the saving world size each rank reads
// its own partition; at another world size the partitions are consolidated
// and re-sharded (elastic resume).
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "checkpoints/formats/state_dict.h"
#include "sharding/communicator.h"
#include "sharding/zero_state.h"

namespace rd {

struct CheckpointSave {
  int64_t step = 0;
  nlohmann::json trainer_state;
  StateDict trainable;        // consolidated weights (rank 0 writes them)
  ZeroShardState shard;       // this rank's
  torch::Tensor rng_state;    // this rank's torch CPU generator state
  std::string config_yaml;    // written as config.yaml (rank 0) unless empty: the run's config, overrides applied
  std::string tokenizer_dir;  // copied in (rank 0), may be empty
};

struct CheckpointLoad {
  std::string dir;
  int64_t step = 0;
  nlohmann::json trainer_state;
  StateDict trainable;
  ZeroShardState shard;     // for this rank under the CURRENT layout
  torch::Tensor rng_state;  // undefined when the world size changed
  bool resharded = false;
};

class CheckpointManager {
 public:
  CheckpointManager(std::string dir, Communicator& comm, int keep_last = 3);

  void save(const CheckpointSave& c);  // collective
  // The checkpoint `latest` points at, for `layout` (this job's partitioning);
  // nullopt when there is none. Collective.
  std::optional<CheckpointLoad> load_latest(const PartitionLayout& layout);
  // A specific checkpoint directory (step_<N>), single-process friendly.
  static CheckpointLoad load(const std::string& step_dir, const PartitionLayout& layout, int rank);
  // Checks every file of a checkpoint directory against its manifest.
  static void verify(const std::string& step_dir);
  // Every rank's partition, consolidated (for read_ckpt).
  static ConsolidatedState consolidated_optimizer(const std::string& step_dir);

  // Writes a copy of checkpoint `step_dir` re-sharded for `world_size` ranks
  // as <out_root>/step_<N> (atomically; must not exist) and points
  // <out_root>/latest at it, so a job of that size resumes from out_root
  // with load_latest. RNG states are dropped. Single process. Returns the
  // new step directory.
  static std::string write_resharded(const std::string& step_dir, int world_size, const std::string& out_root);
  // The step directory `latest` points at in `dir` (error when there is
  // none); `dir` may also be a step directory itself.
  static std::string resolve(const std::string& dir);

  const std::string& dir() const { return dir_; }

  // Crash-test aid: `hook` is called with each phase of save() as this
  // process reaches it ("shard_written", "trainable_written",
  // "files_written" (no manifest yet), "sealed" (step_<N> in place, `latest`
  // not yet updated), "latest_written" (before pruning)); the SIGKILL test
  // kills the process there. Empty by default.
  static void set_phase_hook(std::function<void(const std::string& phase)> hook);

 private:
  std::string dir_;
  Communicator& comm_;
  int keep_last_;
};

}  // namespace rd
