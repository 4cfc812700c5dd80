#include "sharding/zero_state.h"

#include <set>

#include "common/error.h"

namespace rd {

torch::Tensor flat_range_of(const std::map<std::string, torch::Tensor>& tensors,
                            const PartitionLayout& layout, int64_t begin, int64_t end,
                            const char* what) {
  std::vector<torch::Tensor> src;
  std::set<std::string> known;
  for (const FlatParam& p : layout.params) {
    auto it = tensors.find(p.name);
    READ_CHECK(it != tensors.end(), "optimizer state '", what, "' has no parameter '", p.name, "'");
    READ_CHECK(it->second.sizes().vec() == p.shape, "optimizer state '", what, "' parameter '",
               p.name, "' has shape ", it->second.sizes(), ", the model's is ",
               torch::IntArrayRef(p.shape));
    src.push_back(it->second);
    known.insert(p.name);
  }
  for (const auto& kv : tensors)
    READ_CHECK(known.count(kv.first), "optimizer state '", what, "' has parameter '", kv.first,
               "' that is not trainable in this model");
  torch::Tensor out = torch::empty({end - begin}, torch::kFloat);
  gather_flat(layout, src, begin, out);
  return out;
}

ZeroShardState shard_consolidated(const ConsolidatedState& state, const PartitionLayout& layout,
                                  int rank) {
  READ_CHECK(rank >= 0 && rank < layout.world_size, "shard_consolidated: rank ", rank,
             " outside world size ", layout.world_size);
  ZeroShardState s;
  s.layout = layout;
  s.rank = rank;
  s.step = state.step;
  const int64_t b = layout.partition_begin(rank), e = b + layout.partition_numel;
  s.master = flat_range_of(state.master, layout, b, e, "master");
  s.exp_avg = flat_range_of(state.exp_avg, layout, b, e, "exp_avg");
  s.exp_avg_sq = flat_range_of(state.exp_avg_sq, layout, b, e, "exp_avg_sq");
  return s;
}

ConsolidatedState consolidated_from_flat(const PartitionLayout& layout, int64_t step,
                                         const torch::Tensor& master, const torch::Tensor& exp_avg,
                                         const torch::Tensor& exp_avg_sq) {
  ConsolidatedState c;
  c.step = step;
  for (const FlatParam& p : layout.params) {
    auto piece = [&](const torch::Tensor& flat) {
      return flat.narrow(0, p.offset, p.numel).to(torch::kCPU, torch::kFloat).view(p.shape).clone();
    };
    c.master[p.name] = piece(master);
    c.exp_avg[p.name] = piece(exp_avg);
    c.exp_avg_sq[p.name] = piece(exp_avg_sq);
  }
  return c;
}

ConsolidatedState consolidate_shards(const std::vector<ZeroShardState>& shards) {
  READ_CHECK(!shards.empty(), "consolidate_shards: no shards");
  const PartitionLayout& layout = shards[0].layout;
  READ_CHECK(static_cast<int>(shards.size()) == layout.world_size,
             "consolidate_shards: ", shards.size(), " shards for world size ", layout.world_size);
  std::vector<const ZeroShardState*> by_rank(layout.world_size, nullptr);
  for (const ZeroShardState& s : shards) {
    READ_CHECK(s.layout == layout, "consolidate_shards: shard of rank ", s.rank,
               " has a different layout than rank ", shards[0].rank);
    READ_CHECK(s.step == shards[0].step, "consolidate_shards: rank ", s.rank, " is at step ",
               s.step, ", rank ", shards[0].rank, " at ", shards[0].step);
    READ_CHECK(s.rank >= 0 && s.rank < layout.world_size && !by_rank[s.rank],
               "consolidate_shards: rank ", s.rank, " missing, repeated or out of range");
    for (const torch::Tensor* t : {&s.master, &s.exp_avg, &s.exp_avg_sq})
      READ_CHECK(t->numel() == layout.partition_numel, "consolidate_shards: rank ", s.rank,
                 " holds ", t->numel(), " elements, its partition has ", layout.partition_numel);
    by_rank[s.rank] = &s;
  }
  std::vector<torch::Tensor> m, ea, eas;
  for (const ZeroShardState* s : by_rank) {
    m.push_back(s->master.reshape(-1));
    ea.push_back(s->exp_avg.reshape(-1));
    eas.push_back(s->exp_avg_sq.reshape(-1));
  }
  return consolidated_from_flat(layout, shards[0].step, torch::cat(m), torch::cat(ea),
                                torch::cat(eas));
}

}  // namespace rd
