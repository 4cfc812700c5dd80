// ZeRO optimizer state for checkpoints, in two forms:
//  - ZeroShardState: what one rank holds (its partition of the fp32 masters,
//    exp_avg and exp_avg_sq, the step, the layout); saving these per rank is
//    cheap and loads back only at the same world size and parameter set.
//  - ConsolidatedState: the full fp32 state per parameter name (as
//    torch.optim.AdamW keeps it); loads into any world size and ZeRO stage.
// shard_consolidated() and consolidate_shards() convert between them without
// a communicator, so a single-process tool can re-shard checkpoints.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "sharding/flat_buffer.h"

namespace rd {

struct ZeroShardState {
  PartitionLayout layout;
  int rank = 0;
  int64_t step = 0;  // optimizer steps taken (AdamW's t)
  // fp32 [layout.partition_numel]: the flat range [rank * P, (rank + 1) * P).
  torch::Tensor master, exp_avg, exp_avg_sq;
};

struct ConsolidatedState {
  int64_t step = 0;
  // Per parameter name, fp32, the parameter's shape.
  std::map<std::string, torch::Tensor> master, exp_avg, exp_avg_sq;
};

// Rank `rank`'s shard of `state` under `layout` (any world size). Errors name
// missing, extra or mis-shaped parameters.
ZeroShardState shard_consolidated(const ConsolidatedState& state, const PartitionLayout& layout,
                                  int rank);
// The full state from every rank's shard (one per rank, any order, same layout).
ConsolidatedState consolidate_shards(const std::vector<ZeroShardState>& shards);

// The flat range [begin, end) (fp32) of one of the state's maps under `layout`;
// `what` names the map in errors.
torch::Tensor flat_range_of(const std::map<std::string, torch::Tensor>& tensors,
                            const PartitionLayout& layout, int64_t begin, int64_t end,
                            const char* what);
// Splits full flat fp32 buffers ([padded_numel]) into a ConsolidatedState.
ConsolidatedState consolidated_from_flat(const PartitionLayout& layout, int64_t step,
                                         const torch::Tensor& master, const torch::Tensor& exp_avg,
                                         const torch::Tensor& exp_avg_sq);

}  // namespace rd
