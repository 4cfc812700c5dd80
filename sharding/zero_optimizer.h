// ZeroOptimizer: data-parallel AdamW with ZeRO stages 0, 1 and 2
// (Rajbhandari et al. 2020), on any Communicator.
//
// The trainable parameters (the "working weights", fp32 or bf16, identical on
// every rank) are laid out flat (sharding/flat_buffer.h). The optimizer keeps
// fp32 masters and the AdamW moments for its local range of that layout:
//   stage 0: every element (replicated), gradients all-reduced;
//   stage 1: its partition, gradients all-reduced (keeps its shard of them);
//   stage 2: its partition, gradients reduce-scattered in buckets.
// After the update, stages 1 and 2 all-gather the updated partitions (in the
// working dtype) into the working weights; stage 0 copies its own.
//
// Use, per optimizer step of N micro-steps:
//   for each micro-step: (loss / N).backward(); opt.accumulate();
//   opt.step(lr);
// Each rank's loss is the mean over its own samples; gradients are averaged
// over ranks (as DeepSpeed and DDP do), so the result equals single-process
// training on the global batch. accumulate() moves the micro-step's
// param.grad into fp32 storage (so bf16 gradients accumulate in fp32) and
// clears param.grad; calling it is optional (step() takes whatever is left in
// param.grad), and every rank must call it the same number of times.
//
// Gradient storage: by default every stage accumulates micro-steps locally in
// a full fp32 buffer and communicates once per optimizer step, so stage 2
// moves 2 x trainable bytes per step (reduce-scatter + all-gather) whatever
// the accumulation. With reduce_each_micro_step (stage 2), accumulate()
// reduce-scatters each micro-step's gradients straight into the fp32
// partition instead (as DeepSpeed's stage 2 does): no full fp32 gradient
// buffer, but (N + 1) x trainable bytes per step.
//
// Clipping: by the global L2 norm of the averaged gradients across all
// partitions, coefficient max_norm / (norm + 1e-6) when below 1, as
// torch.nn.utils.clip_grad_norm_. A non-finite norm skips the update (masters
// and moments unchanged, step count unchanged) and is reported; decision: the
// reference (DeepSpeed, bf16 without loss scaling) would write NaN into the
// weights, which no run recovers from.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "sharding/adamw.h"
#include "sharding/communicator.h"
#include "sharding/flat_buffer.h"
#include "sharding/zero_state.h"

namespace rd {

struct ZeroConfig {
  int stage = 2;  // 0, 1 or 2
  // Elements per bucketed collective, over all ranks (DeepSpeed's
  // reduce_bucket_size / allgather_bucket_size; spec: 5e8).
  int64_t bucket_elements = 500000000;
  AdamWConfig adamw;
  double max_grad_norm = 1.0;           // <= 0: no clipping
  bool reduce_each_micro_step = false;  // stage 2 only, see above
  // Broadcast rank 0's working weights at construction (as DeepSpeed does),
  // so every rank starts from the same parameters.
  bool broadcast_initial_weights = true;
};

struct ZeroStepResult {
  double grad_norm = 0;  // global L2 norm of the averaged gradients, before clipping
  double clip_coef = 1;  // applied to the gradients (1: not clipped)
  bool skipped = false;  // non-finite gradient norm: no update
  int64_t step = 0;      // optimizer steps taken after this one
};

// Bytes this rank holds for the optimizer, measured from its buffers.
struct ZeroMemory {
  int64_t master = 0, exp_avg = 0, exp_avg_sq = 0;  // fp32 masters and moments
  int64_t gradients = 0;                            // fp32 gradient storage
  int64_t buckets = 0;                              // communication staging
  int64_t optimizer_states() const { return master + exp_avg + exp_avg_sq; }
  int64_t total() const { return optimizer_states() + gradients + buckets; }
};

class ZeroOptimizer {
 public:
  using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

  // `params`: the trainable parameters (requires_grad, contiguous, one dtype
  // and device = comm.device()) in the same order on every rank. Collective.
  ZeroOptimizer(Communicator& comm, NamedParameters params, ZeroConfig cfg);

  // Moves the current param.grad into the optimizer's fp32 gradients and
  // clears param.grad (collective with reduce_each_micro_step).
  void accumulate();
  // Averages, clips and applies the accumulated gradients with learning rate
  // `lr`, updates the working weights, clears the gradients. Collective.
  ZeroStepResult step(double lr);
  // Discards accumulated gradients (and param.grad).
  void zero_grad();

  int64_t step_count() const { return step_; }
  const ZeroConfig& config() const { return cfg_; }
  const PartitionLayout& layout() const { return layout_; }
  // This rank's range of the flat layout: masters/moments cover [begin, end).
  int64_t local_begin() const { return local_begin_; }
  int64_t local_end() const { return local_begin_ + master_.numel(); }
  ZeroMemory memory() const;

  // Checkpoint hooks (sharding/zero_state.h). local_state() is this rank's
  // partition (for stage 0 too, so every stage saves the same shards).
  ZeroShardState local_state() const;
  // Same world size and parameters only; also sets the working weights.
  // Collective.
  void load_local_state(const ZeroShardState& shard);
  // The full fp32 state, on every rank. Collective (stages 1, 2).
  ConsolidatedState export_consolidated();
  // Any world size or stage; sets masters, moments, step and working weights.
  // Local (every rank passes the same full state).
  void load_consolidated(const ConsolidatedState& state);

 private:
  std::vector<torch::Tensor> grads() const;  // param.grad per parameter (maybe undefined)
  void clear_param_grads();
  bool any_rank_has_param_grads();
  void reduce_scatter_micro_step();    // reduce_each_micro_step path
  torch::Tensor reduce_accumulated();  // -> summed gradients of the local range
  void publish();                      // masters -> working weights
  torch::Tensor gather_partitions(const torch::Tensor& local);  // [P] -> [padded]
  torch::Tensor& staging(torch::ScalarType dtype);
  void check_same_layout_on_all_ranks();
  int64_t bucket_numel() const;  // per-rank elements per bucket

  Communicator& comm_;
  ZeroConfig cfg_;
  std::vector<std::string> names_;
  std::vector<torch::Tensor> params_;
  PartitionLayout layout_;
  torch::TensorOptions fp32_;
  int64_t local_begin_ = 0;
  torch::Tensor master_, exp_avg_, exp_avg_sq_;  // fp32, the local range
  torch::Tensor grad_full_;  // fp32 [padded], local accumulation (allocated on first use)
  torch::Tensor grad_part_;  // fp32 [P], reduce_each_micro_step accumulation
  torch::Tensor staging_f32_, staging_work_;  // bucket buffers
  int64_t step_ = 0;
};

}  // namespace rd
