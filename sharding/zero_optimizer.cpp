#include "sharding/zero_optimizer.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/logging.h"

namespace rd {

ZeroOptimizer::ZeroOptimizer(Communicator& comm, NamedParameters params, ZeroConfig cfg)
    : comm_(comm), cfg_(cfg) {
  READ_CHECK(cfg_.stage >= 0 && cfg_.stage <= 2, "zero_stage ", cfg_.stage, ": expected 0, 1 or 2");
  READ_CHECK(cfg_.bucket_elements >= 1, "ZeRO bucket size ", cfg_.bucket_elements, " elements");
  READ_CHECK(!cfg_.reduce_each_micro_step || cfg_.stage == 2,
             "reduce_each_micro_step needs ZeRO stage 2, not ", cfg_.stage);
  READ_CHECK(!params.empty(), "ZeroOptimizer: no trainable parameters");
  const torch::ScalarType dtype = params[0].second.scalar_type();
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (auto& [name, p] : params) {
    READ_CHECK(p.defined() && p.requires_grad(), "ZeroOptimizer: parameter '", name,
               "' is not a trainable tensor (requires_grad)");
    READ_CHECK(p.is_contiguous(), "ZeroOptimizer: parameter '", name, "' is not contiguous");
    READ_CHECK(p.scalar_type() == dtype, "ZeroOptimizer: parameter '", name, "' is ",
               p.scalar_type(), ", '", params[0].first, "' is ", dtype,
               "; all trainable parameters must share one dtype");
    READ_CHECK(p.device() == comm_.device(), "ZeroOptimizer: parameter '", name, "' is on ",
               p.device(), ", the ", comm_.backend(), " communicator on ", comm_.device());
    names_.push_back(name);
    params_.push_back(p);
    shapes.emplace_back(name, p.sizes().vec());
  }
  layout_ = PartitionLayout::make(shapes, comm_.world_size());
  fp32_ = torch::TensorOptions().dtype(torch::kFloat).device(comm_.device());
  check_same_layout_on_all_ranks();

  torch::NoGradGuard no_grad;
  if (cfg_.broadcast_initial_weights) {
    for (torch::Tensor& p : params_) {
      torch::Tensor data = p.detach();
      comm_.broadcast(data, 0);
    }
  }
  int64_t local_numel = layout_.padded_numel;
  if (cfg_.stage > 0) {
    local_begin_ = layout_.partition_begin(comm_.rank());
    local_numel = layout_.partition_numel;
  }
  master_ = torch::empty({local_numel}, fp32_);
  gather_flat(layout_, params_, local_begin_, master_);
  exp_avg_ = torch::zeros_like(master_);
  exp_avg_sq_ = torch::zeros_like(master_);
}

void ZeroOptimizer::check_same_layout_on_all_ranks() {
  uint64_t fp = layout_.fingerprint();
  fp = fp * 31 + static_cast<uint64_t>(cfg_.stage) * 7 + (cfg_.reduce_each_micro_step ? 1 : 0);
  fp = fp * 31 + static_cast<uint64_t>(params_[0].scalar_type());
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(comm_.device());
  torch::Tensor root = torch::full({1}, static_cast<int64_t>(fp), long_opts);
  comm_.broadcast(root, 0);
  const bool differs = root.item<int64_t>() != static_cast<int64_t>(fp);
  torch::Tensor bad = torch::full({1}, differs ? 1 : 0, long_opts);
  comm_.all_reduce(bad);
  READ_CHECK(bad.item<int64_t>() == 0, "rank ", comm_.rank(), ": ", bad.item<int64_t>(),
             " rank(s) pass trainable parameters (names, shapes, order, dtype) or a ZeRO "
             "configuration different from rank 0's",
             differs ? " (this one does)" : "");
}

int64_t ZeroOptimizer::bucket_numel() const {
  const int64_t per_rank = std::max<int64_t>(1, cfg_.bucket_elements / comm_.world_size());
  return std::min(per_rank, std::max<int64_t>(1, layout_.partition_numel));
}

torch::Tensor& ZeroOptimizer::staging(torch::ScalarType dtype) {
  torch::Tensor& s = dtype == torch::kFloat ? staging_f32_ : staging_work_;
  if (!s.defined() || s.scalar_type() != dtype)
    s = torch::empty({bucket_numel() * comm_.world_size()}, fp32_.dtype(dtype));
  return s;
}

std::vector<torch::Tensor> ZeroOptimizer::grads() const {
  std::vector<torch::Tensor> g;
  for (const torch::Tensor& p : params_) g.push_back(p.grad());
  return g;
}

void ZeroOptimizer::clear_param_grads() {
  for (torch::Tensor& p : params_) p.mutable_grad() = torch::Tensor();
}

bool ZeroOptimizer::any_rank_has_param_grads() {
  bool mine = false;
  for (const torch::Tensor& p : params_) mine = mine || p.grad().defined();
  torch::Tensor n = torch::full({1}, mine ? 1 : 0, fp32_.dtype(torch::kLong));
  comm_.all_reduce(n);
  return n.item<int64_t>() > 0;
}

void ZeroOptimizer::accumulate() {
  torch::NoGradGuard no_grad;
  if (cfg_.reduce_each_micro_step) {
    reduce_scatter_micro_step();
    return;
  }
  if (!grad_full_.defined()) grad_full_ = torch::zeros({layout_.padded_numel}, fp32_);
  for (size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& g = params_[i].grad();
    if (!g.defined()) continue;
    const FlatParam& p = layout_.params[i];
    grad_full_.narrow(0, p.offset, p.numel).add_(g.reshape(-1));
  }
  clear_param_grads();
}

// Bucket k holds, from every rank's partition, the local elements
// [k * b, k * b + len): rank r's piece sits at r * len of the staging buffer,
// so the reduce-scatter hands rank r the sum of its own piece.
void ZeroOptimizer::reduce_scatter_micro_step() {
  const int n = comm_.world_size();
  const int64_t P = layout_.partition_numel, b = bucket_numel();
  if (!grad_part_.defined()) grad_part_ = torch::zeros({P}, fp32_);
  const std::vector<torch::Tensor> g = grads();
  for (int64_t k0 = 0; k0 < P; k0 += b) {
    const int64_t len = std::min(b, P - k0);
    torch::Tensor in = staging(torch::kFloat).narrow(0, 0, n * len);
    for (int r = 0; r < n; ++r) gather_flat(layout_, g, r * P + k0, in.narrow(0, r * len, len));
    torch::Tensor out = torch::empty({len}, fp32_);
    comm_.reduce_scatter(in, out);
    grad_part_.narrow(0, k0, len).add_(out);
  }
  clear_param_grads();
}

torch::Tensor ZeroOptimizer::reduce_accumulated() {
  const int n = comm_.world_size();
  const int64_t P = layout_.partition_numel;
  if (cfg_.reduce_each_micro_step) {
    if (!grad_part_.defined()) grad_part_ = torch::zeros({P}, fp32_);
    return grad_part_;
  }
  if (!grad_full_.defined()) grad_full_ = torch::zeros({layout_.padded_numel}, fp32_);
  if (cfg_.stage < 2) {
    for (int64_t k0 = 0; k0 < layout_.padded_numel; k0 += cfg_.bucket_elements) {
      torch::Tensor bucket =
          grad_full_.narrow(0, k0, std::min(cfg_.bucket_elements, layout_.padded_numel - k0));
      comm_.all_reduce(bucket);
    }
    return cfg_.stage == 0 ? grad_full_ : grad_full_.narrow(0, local_begin_, P);
  }
  if (!grad_part_.defined()) grad_part_ = torch::empty({P}, fp32_);
  const torch::Tensor by_rank = grad_full_.view({n, P});
  const int64_t b = bucket_numel();
  for (int64_t k0 = 0; k0 < P; k0 += b) {
    const int64_t len = std::min(b, P - k0);
    torch::Tensor in = staging(torch::kFloat).narrow(0, 0, n * len);
    in.view({n, len}).copy_(by_rank.narrow(1, k0, len));
    torch::Tensor out = grad_part_.narrow(0, k0, len);
    comm_.reduce_scatter(in, out);
  }
  return grad_part_;
}

ZeroStepResult ZeroOptimizer::step(double lr) {
  READ_CHECK(std::isfinite(lr) && lr >= 0, "ZeroOptimizer::step: learning rate ", lr);
  if (!cfg_.reduce_each_micro_step || any_rank_has_param_grads()) accumulate();
  torch::NoGradGuard no_grad;
  torch::Tensor g = reduce_accumulated();
  g.mul_(1.0 / comm_.world_size());

  const double local_norm =
      at::linalg_vector_norm(g, 2, c10::nullopt, false, torch::kDouble).item<double>();
  double sumsq = local_norm * local_norm;
  if (cfg_.stage > 0) {  // partitions: sum the squares over ranks
    torch::Tensor s = torch::full({1}, sumsq, fp32_.dtype(torch::kDouble));
    comm_.all_reduce(s);
    sumsq = s.item<double>();
  }
  ZeroStepResult r;
  r.grad_norm = std::sqrt(sumsq);
  if (!std::isfinite(r.grad_norm)) {
    LOG(WARNING) << rank_prefix() << "non-finite gradient norm at optimizer step " << step_ + 1
                 << ": update skipped";
    r.skipped = true;
    r.step = step_;
    zero_grad();
    return r;
  }
  if (cfg_.max_grad_norm > 0) {
    const double coef = cfg_.max_grad_norm / (r.grad_norm + 1e-6);
    if (coef < 1) {
      g.mul_(coef);
      r.clip_coef = coef;
    }
  }
  adamw_update(master_, g, exp_avg_, exp_avg_sq_, ++step_, lr, cfg_.adamw);
  publish();
  zero_grad();
  r.step = step_;
  return r;
}

void ZeroOptimizer::publish() {
  torch::NoGradGuard no_grad;
  if (cfg_.stage == 0) {
    scatter_flat(layout_, master_, 0, params_);
    return;
  }
  const int n = comm_.world_size();
  const int64_t P = layout_.partition_numel, b = bucket_numel();
  const torch::ScalarType dtype = params_[0].scalar_type();
  for (int64_t k0 = 0; k0 < P; k0 += b) {
    const int64_t len = std::min(b, P - k0);
    torch::Tensor in = master_.narrow(0, k0, len).to(dtype);
    torch::Tensor out = staging(dtype).narrow(0, 0, n * len);
    comm_.all_gather(in, out);
    for (int r = 0; r < n; ++r)
      scatter_flat(layout_, out.narrow(0, r * len, len), r * P + k0, params_);
  }
}

void ZeroOptimizer::zero_grad() {
  clear_param_grads();
  if (grad_full_.defined()) grad_full_.zero_();
  if (grad_part_.defined()) grad_part_.zero_();
}

ZeroMemory ZeroOptimizer::memory() const {
  auto bytes = [](const torch::Tensor& t) -> int64_t { return t.defined() ? t.nbytes() : 0; };
  ZeroMemory m;
  m.master = bytes(master_);
  m.exp_avg = bytes(exp_avg_);
  m.exp_avg_sq = bytes(exp_avg_sq_);
  m.gradients = bytes(grad_full_) + bytes(grad_part_);
  m.buckets = bytes(staging_f32_) + bytes(staging_work_);
  return m;
}

torch::Tensor ZeroOptimizer::gather_partitions(const torch::Tensor& local) {
  torch::Tensor full = torch::empty({layout_.padded_numel}, fp32_);
  comm_.all_gather(local.contiguous(), full);
  return full;
}

ZeroShardState ZeroOptimizer::local_state() const {
  ZeroShardState s;
  s.layout = layout_;
  s.rank = comm_.rank();
  s.step = step_;
  const int64_t at = layout_.partition_begin(comm_.rank()) - local_begin_;
  auto part = [&](const torch::Tensor& t) {
    return t.narrow(0, at, layout_.partition_numel).to(torch::kCPU).clone();
  };
  s.master = part(master_);
  s.exp_avg = part(exp_avg_);
  s.exp_avg_sq = part(exp_avg_sq_);
  return s;
}

void ZeroOptimizer::load_local_state(const ZeroShardState& shard) {
  READ_CHECK(shard.layout == layout_, "rank ", comm_.rank(),
             ": the optimizer shard was saved for world size ", shard.layout.world_size, " and ",
             shard.layout.params.size(), " parameters (", shard.layout.total_numel,
             " elements); this run has world size ", layout_.world_size, " and ",
             layout_.params.size(), " (", layout_.total_numel,
             "): consolidate the shards and load the consolidated state");
  READ_CHECK(shard.rank == comm_.rank(), "rank ", comm_.rank(), " given the shard of rank ",
             shard.rank);
  for (const torch::Tensor* t : {&shard.master, &shard.exp_avg, &shard.exp_avg_sq})
    READ_CHECK(t->numel() == layout_.partition_numel, "rank ", comm_.rank(), ": shard holds ",
               t->numel(), " elements, the partition has ", layout_.partition_numel);
  torch::NoGradGuard no_grad;
  auto load = [&](torch::Tensor& dst, const torch::Tensor& part) {
    torch::Tensor p = part.reshape(-1).to(fp32_);
    dst.copy_(cfg_.stage == 0 ? gather_partitions(p) : p);
  };
  load(master_, shard.master);
  load(exp_avg_, shard.exp_avg);
  load(exp_avg_sq_, shard.exp_avg_sq);
  step_ = shard.step;
  publish();
  zero_grad();
}

ConsolidatedState ZeroOptimizer::export_consolidated() {
  if (cfg_.stage == 0)
    return consolidated_from_flat(layout_, step_, master_, exp_avg_, exp_avg_sq_);
  return consolidated_from_flat(layout_, step_, gather_partitions(master_),
                                gather_partitions(exp_avg_), gather_partitions(exp_avg_sq_));
}

void ZeroOptimizer::load_consolidated(const ConsolidatedState& state) {
  torch::NoGradGuard no_grad;
  master_.copy_(flat_range_of(state.master, layout_, local_begin_, local_end(), "master"));
  exp_avg_.copy_(flat_range_of(state.exp_avg, layout_, local_begin_, local_end(), "exp_avg"));
  exp_avg_sq_.copy_(
      flat_range_of(state.exp_avg_sq, layout_, local_begin_, local_end(), "exp_avg_sq"));
  step_ = state.step;
  for (size_t i = 0; i < params_.size(); ++i) params_[i].copy_(state.master.at(names_[i]));
  zero_grad();
}

}  // namespace rd
