// ZeRO stages 0/1/2 against single-process torch::optim::AdamW on a tiny
// model (three Linear layers, 467 parameters: an odd count, so partitions are
// padded), on however many ranks mpirun starts (ctest runs it
// on 1, 2 and 4). Every rank also trains the
// single-process reference, so "1, 2 and 4 ranks give the same parameters"
// is checked as "each equals the reference".
//
// mpi ranks: 1 2 4
#include <gtest/gtest.h>

#include <cstdio>

#include "common/error.h"
#include "sharding/zero_optimizer.h"
#include "tests/harness/mpi_environment.h"

namespace {

using rd::testing::MpiEnvironment;

rd::Communicator& world() { return MpiEnvironment::world(); }

constexpr int kSteps = 5;
const double kLr[kSteps] = {1e-2, 2e-2, 3e-2, 2e-2, 1e-2};
constexpr double kWeightDecay = 0.1;
constexpr double kMaxNorm = 0.6;  // clips some steps, not all (checked)

struct Data {
  torch::Tensor x, y;
};

Data global_batch(int64_t n) {
  torch::manual_seed(1234);
  Data d{torch::randn({n, 8}), torch::randn({n, 3})};
  return d;
}

torch::nn::Sequential make_model(torch::ScalarType dtype = torch::kFloat, uint64_t seed = 42) {
  torch::manual_seed(seed);
  torch::nn::Sequential m(torch::nn::Linear(8, 16), torch::nn::Tanh(), torch::nn::Linear(16, 16),
                          torch::nn::Tanh(), torch::nn::Linear(16, 3));
  m->to(dtype);
  return m;
}

rd::ZeroOptimizer::NamedParameters named(torch::nn::Sequential& m) {
  rd::ZeroOptimizer::NamedParameters out;
  for (auto& kv : m->named_parameters()) out.emplace_back(kv.key(), kv.value());
  return out;
}

torch::Tensor loss_of(torch::nn::Sequential& m, const torch::Tensor& x, const torch::Tensor& y) {
  const torch::ScalarType dtype = m->parameters()[0].scalar_type();
  return (m->forward(x.to(dtype)) - y.to(dtype)).pow(2).mean();  // mse_loss has no CPU bf16
}

// Single-process training on the whole batch with torch's own AdamW and
// clip_grad_norm_.
struct Reference {
  torch::nn::Sequential model = make_model();
  std::vector<double> norms;
  rd::ConsolidatedState state;  // after the steps, from torch's AdamW state
};

Reference train_reference(const Data& d, int steps = kSteps) {
  Reference ref;
  std::vector<torch::Tensor> params = ref.model->parameters();
  torch::optim::AdamW opt(
      params,
      torch::optim::AdamWOptions(kLr[0]).betas({0.9, 0.95}).eps(1e-8).weight_decay(kWeightDecay));
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    loss_of(ref.model, d.x, d.y).backward();
    ref.norms.push_back(torch::nn::utils::clip_grad_norm_(params, kMaxNorm));
    static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[0].options()).lr(kLr[s]);
    opt.step();
  }
  ref.state.step = steps;
  for (auto& kv : ref.model->named_parameters()) {
    auto& st = static_cast<torch::optim::AdamWParamState&>(
        *opt.state().at(c10::guts::to_string(kv.value().unsafeGetTensorImpl())));
    ref.state.master[kv.key()] = kv.value().detach().clone();
    ref.state.exp_avg[kv.key()] = st.exp_avg().clone();
    ref.state.exp_avg_sq[kv.key()] = st.exp_avg_sq().clone();
  }
  return ref;
}

struct RunOptions {
  int stage = 2;
  int micro_batch = 0;  // 0: the whole local batch in one micro-step
  int accumulation = 1;
  int64_t bucket_elements = 500000000;
  bool reduce_each_micro_step = false;
  torch::ScalarType dtype = torch::kFloat;
  int first_step = 0, last_step = kSteps;  // steps [first, last) of kLr
};

rd::ZeroConfig config_of(const RunOptions& o) {
  rd::ZeroConfig cfg;
  cfg.stage = o.stage;
  cfg.bucket_elements = o.bucket_elements;
  cfg.reduce_each_micro_step = o.reduce_each_micro_step;
  cfg.adamw.weight_decay = kWeightDecay;
  cfg.max_grad_norm = kMaxNorm;
  return cfg;
}

// Trains `steps` optimizer steps on this rank's share of the global batch.
std::vector<rd::ZeroStepResult> train(rd::Communicator& comm, rd::ZeroOptimizer& opt,
                                      torch::nn::Sequential& model, const Data& d,
                                      const RunOptions& o) {
  const int64_t local = d.x.size(0) / comm.world_size();
  const int64_t mb = o.micro_batch > 0 ? o.micro_batch : local;
  EXPECT_EQ(mb * o.accumulation, local) << "test set-up: micro-batch x accumulation";
  const torch::Tensor x = d.x.narrow(0, comm.rank() * local, local);
  const torch::Tensor y = d.y.narrow(0, comm.rank() * local, local);
  std::vector<rd::ZeroStepResult> results;
  for (int s = o.first_step; s < o.last_step; ++s) {
    for (int m = 0; m < o.accumulation; ++m) {
      // The caller scales by 1/accumulation, as the reference's engine does.
      (loss_of(model, x.narrow(0, m * mb, mb), y.narrow(0, m * mb, mb)) / o.accumulation)
          .backward();
      opt.accumulate();
    }
    results.push_back(opt.step(kLr[s]));
  }
  return results;
}

struct Trained {
  torch::nn::Sequential model;
  std::unique_ptr<rd::ZeroOptimizer> opt;
  std::vector<rd::ZeroStepResult> results;
};

Trained run(rd::Communicator& comm, const Data& d, const RunOptions& o) {
  Trained r{make_model(o.dtype), nullptr, {}};
  r.opt = std::make_unique<rd::ZeroOptimizer>(comm, named(r.model), config_of(o));
  r.results = train(comm, *r.opt, r.model, d, o);
  return r;
}

// Elementwise |a - b| <= rtol |b| + atol over every parameter.
void expect_close(const std::map<std::string, torch::Tensor>& got,
                  const std::map<std::string, torch::Tensor>& want, double rtol, double atol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (const auto& [name, w] : want) {
    const torch::Tensor g = got.at(name).to(torch::kDouble), wd = w.to(torch::kDouble);
    const torch::Tensor err = (g - wd).abs();
    const torch::Tensor excess = err - (rtol * wd.abs() + atol);
    const int64_t worst = excess.argmax().item<int64_t>();
    EXPECT_LE(excess.max().item<double>(), 0.0)
        << what << ": '" << name << "' max abs error " << err.max().item<double>()
        << ", worst at flat index " << worst << " got " << g.view(-1)[worst].item<double>()
        << " want " << wd.view(-1)[worst].item<double>();
  }
}

std::map<std::string, torch::Tensor> params_of(const torch::nn::Sequential& m) {
  std::map<std::string, torch::Tensor> out;
  for (auto& kv : m->named_parameters()) out[kv.key()] = kv.value().detach();
  return out;
}

void expect_same_on_all_ranks(torch::nn::Sequential& m, const std::string& what) {
  for (auto& kv : m->named_parameters()) {
    torch::Tensor mine = kv.value().detach().clone();
    torch::Tensor root = mine.clone();
    world().broadcast(root, 0);
    EXPECT_TRUE(torch::equal(mine, root)) << what << ": '" << kv.key() << "' differs from rank 0";
  }
}

constexpr double kRtol = 1e-5, kAtol = 1e-7;

TEST(Zero, StagesMatchSingleProcessAdamW) {
  const Data d = global_batch(8);
  const Reference ref = train_reference(d);
  int clipped = 0;
  for (double n : ref.norms) clipped += n > kMaxNorm;
  ASSERT_GT(clipped, 0) << "test set-up: the reference must clip some steps";
  ASSERT_LT(clipped, kSteps) << "test set-up: the reference must leave some steps unclipped";
  std::map<int, std::map<std::string, torch::Tensor>> by_stage;
  for (int stage : {0, 1, 2}) {
    RunOptions o;
    o.stage = stage;
    Trained r = run(world(), d, o);
    const std::string what =
        "stage " + std::to_string(stage) + " on " + std::to_string(world().world_size()) + " ranks";
    expect_close(params_of(r.model), params_of(ref.model), kRtol, kAtol, what);
    for (int s = 0; s < kSteps; ++s) {
      EXPECT_NEAR(r.results[s].grad_norm, ref.norms[s], 1e-5 * ref.norms[s])
          << what << " step " << s;
      EXPECT_EQ(r.results[s].clip_coef<1, ref.norms[s]> kMaxNorm) << what << " step " << s;
      EXPECT_FALSE(r.results[s].skipped);
    }
    EXPECT_EQ(r.opt->step_count(), kSteps);
    expect_same_on_all_ranks(r.model, what);
    by_stage[stage] = params_of(r.model);
  }
  expect_close(by_stage[1], by_stage[0], kRtol, kAtol, "stage 1 vs stage 0");
  expect_close(by_stage[2], by_stage[0], kRtol, kAtol, "stage 2 vs stage 0");
}

TEST(Zero, SmallBucketsAndMicroStepReduction) {
  // Buckets of 40 elements over all ranks cut through every parameter.
  const Data d = global_batch(8);
  const Reference ref = train_reference(d);
  for (int stage : {0, 1, 2}) {
    RunOptions o;
    o.stage = stage;
    o.bucket_elements = 40;
    Trained r = run(world(), d, o);
    expect_close(params_of(r.model), params_of(ref.model), kRtol, kAtol,
                 "stage " + std::to_string(stage) + " with 40-element buckets");
  }
  RunOptions o;
  o.stage = 2;
  o.bucket_elements = 40;
  o.reduce_each_micro_step = true;
  o.micro_batch = 1;
  o.accumulation = static_cast<int>(8 / world().world_size());
  Trained r = run(world(), d, o);
  expect_close(params_of(r.model), params_of(ref.model), kRtol, kAtol,
               "stage 2 reducing every micro-step");
  expect_same_on_all_ranks(r.model, "stage 2 reducing every micro-step");
}

TEST(Zero, AccumulationEqualsLargerMicroBatch) {
  const Data d = global_batch(4 * world().world_size());
  const Reference ref = train_reference(d);
  struct Variant {
    int stage;
    bool per_micro;
  };
  for (Variant v : {Variant{0, false}, Variant{1, false}, Variant{2, false}, Variant{2, true}}) {
    RunOptions big;
    big.stage = v.stage;
    big.reduce_each_micro_step = v.per_micro;
    big.micro_batch = 4;
    big.accumulation = 1;
    RunOptions small = big;
    small.micro_batch = 1;
    small.accumulation = 4;
    Trained a = run(world(), d, big), b = run(world(), d, small);
    const std::string what = "stage " + std::to_string(v.stage) + (v.per_micro ? " per-micro" : "");
    expect_close(params_of(b.model), params_of(a.model), kRtol, kAtol,
                 what + ": micro-batch 1 x 4 vs 4 x 1");
    expect_close(params_of(a.model), params_of(ref.model), kRtol, kAtol, what + ": vs reference");
  }
}

TEST(Zero, ConsolidatedStateIsTorchAdamWState) {
  const Data d = global_batch(8);
  const Reference ref = train_reference(d);
  Trained r = run(world(), d, RunOptions{});
  const rd::ConsolidatedState c = r.opt->export_consolidated();
  EXPECT_EQ(c.step, kSteps);
  expect_close(c.master, ref.state.master, kRtol, kAtol, "masters");
  expect_close(c.exp_avg, ref.state.exp_avg, 1e-4, 1e-8, "exp_avg");
  expect_close(c.exp_avg_sq, ref.state.exp_avg_sq, 1e-4, 1e-12, "exp_avg_sq");
}

TEST(Zero, ResumeFromShardsContinuesExactly) {
  const Data d = global_batch(8);
  RunOptions all;
  Trained whole = run(world(), d, all);

  RunOptions first = all;
  first.last_step = 2;
  Trained a = run(world(), d, first);
  const rd::ZeroShardState shard = a.opt->local_state();
  EXPECT_EQ(shard.step, 2);
  EXPECT_EQ(shard.master.numel(), shard.layout.partition_numel);

  // A fresh process: other initial weights, then the shard.
  Trained b{make_model(torch::kFloat, 999), nullptr, {}};
  b.opt = std::make_unique<rd::ZeroOptimizer>(world(), named(b.model), config_of(all));
  b.opt->load_local_state(shard);
  expect_close(params_of(b.model), params_of(a.model), 0, 0, "weights after loading the shard");
  RunOptions rest = all;
  rest.first_step = 2;
  train(world(), *b.opt, b.model, d, rest);
  for (auto& [name, p] : params_of(b.model))
    EXPECT_TRUE(torch::equal(p, params_of(whole.model).at(name))) << "resumed '" << name << "'";
  EXPECT_EQ(b.opt->step_count(), kSteps);

  // Another world size cannot take this shard.
  if (world().world_size() > 1) {
    rd::MpiCommunicator self(MPI_COMM_SELF, 10.0);
    Trained c{make_model(), nullptr, {}};
    c.opt = std::make_unique<rd::ZeroOptimizer>(self, named(c.model), config_of(all));
    rd::ZeroShardState mine = shard;
    mine.rank = 0;
    EXPECT_THROW(c.opt->load_local_state(mine), rd::Error);
  }
}

TEST(Zero, ConsolidatedStateReshardsToOneRank) {
  // Two steps on all ranks with ZeRO-2, then the rest on one rank with
  // ZeRO-0 from the consolidated state: the same as five steps anywhere.
  const Data d = global_batch(8);
  const Reference ref = train_reference(d);
  RunOptions first;
  first.last_step = 2;
  Trained a = run(world(), d, first);
  const rd::ConsolidatedState c = a.opt->export_consolidated();
  EXPECT_EQ(c.step, 2);

  rd::MpiCommunicator self(MPI_COMM_SELF, 10.0);
  RunOptions rest;
  rest.stage = 0;
  rest.first_step = 2;
  Trained b{make_model(torch::kFloat, 999), nullptr, {}};
  b.opt = std::make_unique<rd::ZeroOptimizer>(self, named(b.model), config_of(rest));
  b.opt->load_consolidated(c);
  EXPECT_EQ(b.opt->step_count(), 2);
  train(self, *b.opt, b.model, d, rest);
  expect_close(params_of(b.model), params_of(ref.model), kRtol, kAtol,
               "2 steps on all ranks + 3 on one");
}

TEST(Zero, OptimizerStateShrinksWithRanks) {
  const Data d = global_batch(8);
  const int n = world().world_size();
  rd::MpiCommunicator self(MPI_COMM_SELF, 10.0);
  for (int stage : {0, 1, 2}) {
    RunOptions o;
    o.stage = stage;
    o.last_step = 1;
    Trained sharded = run(world(), d, o);
    Trained single = run(self, d, o);  // one rank, the whole batch on it
    const rd::ZeroMemory m = sharded.opt->memory(), m1 = single.opt->memory();
    const double ratio = double(m.optimizer_states()) / m1.optimizer_states();
    if (world().rank() == 0)
      std::printf(
          "[ zero ] stage %d: optimizer state %lld bytes/rank on %d ranks, %lld on 1: "
          "ratio %.4f\n",
          stage, (long long)m.optimizer_states(), n, (long long)m1.optimizer_states(), ratio);
    EXPECT_EQ(m1.optimizer_states(), 12 * 467);
    if (stage == 0) {
      EXPECT_EQ(m.optimizer_states(), 12 * sharded.opt->layout().padded_numel);
    } else {
      EXPECT_EQ(m.optimizer_states(), 12 * sharded.opt->layout().partition_numel);
      EXPECT_LE(ratio, 1.0 / n + 0.02);
      if (n == 4) EXPECT_LE(ratio, 0.27);
    }
  }
  // Stage 2 reducing every micro-step also partitions the fp32 gradients.
  RunOptions o;
  o.reduce_each_micro_step = true;
  o.last_step = 1;
  Trained sharded = run(world(), d, o);
  EXPECT_EQ(sharded.opt->memory().gradients, 4 * sharded.opt->layout().partition_numel);
}

TEST(Zero, Stage2MovesTwiceTheParameterBytes) {
  const int n = world().world_size();
  const Data d = global_batch(4 * n);
  const double param_bytes = 467 * 4;
  struct Variant {
    const char* name;
    int stage, accumulation;
    bool per_micro;
    double want;  // x parameter bytes per optimizer step (ZeRO paper accounting)
  };
  for (Variant v : {Variant{"zero-2", 2, 1, false, 2}, Variant{"zero-2 acc 4", 2, 4, false, 2},
                    Variant{"zero-2 per-micro acc 4", 2, 4, true, 5},
                    Variant{"zero-1", 1, 1, false, 3}, Variant{"zero-0", 0, 1, false, 2}}) {
    RunOptions o;
    o.stage = v.stage;
    o.accumulation = v.accumulation;
    o.micro_batch = 4 / v.accumulation;
    o.reduce_each_micro_step = v.per_micro;
    Trained r{make_model(), nullptr, {}};
    r.opt = std::make_unique<rd::ZeroOptimizer>(world(), named(r.model), config_of(o));
    const rd::CommStats before = world().stats();
    train(world(), *r.opt, r.model, d, o);
    const rd::CommStats per_step = world().stats() - before;
    const double bytes = double(per_step.total_bytes()) / kSteps;
    const double ratio = bytes / (v.want * param_bytes);
    if (world().rank() == 0)
      std::printf(
          "[ zero ] %s on %d ranks: %.0f bytes/step = %.4f x %.0f x parameter bytes "
          "(%.0f bytes sent/rank by a ring); %s per 5 steps\n",
          v.name, n, bytes, ratio, v.want, per_step.ring_bytes_sent(n) / kSteps,
          per_step.summary().c_str());
    EXPECT_NEAR(ratio, 1.0, 0.05) << v.name;
  }
}

TEST(Zero, BfloatWorkingWeightsAreRoundedFp32Masters) {
  const Data d = global_batch(8);
  const Reference ref = train_reference(d);
  for (int stage : {0, 2}) {
    RunOptions o;
    o.stage = stage;
    o.dtype = torch::kBFloat16;
    Trained r = run(world(), d, o);
    const rd::ConsolidatedState c = r.opt->export_consolidated();
    int64_t finer = 0;
    for (auto& [name, p] : params_of(r.model)) {
      EXPECT_EQ(p.scalar_type(), torch::kBFloat16);
      EXPECT_TRUE(torch::equal(p, c.master.at(name).to(torch::kBFloat16)))
          << "stage " << stage << " '" << name << "' is not its master rounded to bf16";
      finer += (c.master.at(name) != p.to(torch::kFloat)).sum().item<int64_t>();
    }
    EXPECT_GT(finer, 0) << "fp32 masters keep precision the bf16 weights lack";
    // bf16 forward/backward: close to fp32 training, not equal.
    expect_close(c.master, params_of(ref.model), 0.0, 0.03, "bf16 training vs fp32 reference");
    expect_same_on_all_ranks(r.model, "bf16 stage " + std::to_string(stage));
  }
}

TEST(Zero, NonFiniteGradientSkipsTheStepOnEveryRank) {
  const Data d = global_batch(8);
  Trained r{make_model(), nullptr, {}};
  r.opt = std::make_unique<rd::ZeroOptimizer>(world(), named(r.model), config_of(RunOptions{}));
  const auto before = params_of(r.model);
  std::map<std::string, torch::Tensor> kept;
  for (auto& [k, v] : before) kept[k] = v.clone();
  loss_of(r.model, d.x, d.y).backward();
  if (world().rank() == world().world_size() - 1)  // one rank's gradient blows up
    r.model->named_parameters()["4.bias"].mutable_grad()[0] = NAN;
  const rd::ZeroStepResult res = r.opt->step(1e-2);
  EXPECT_TRUE(res.skipped);
  EXPECT_FALSE(std::isfinite(res.grad_norm));
  EXPECT_EQ(r.opt->step_count(), 0);
  expect_close(params_of(r.model), kept, 0, 0, "weights after a skipped step");
  // The next step works normally.
  loss_of(r.model, d.x, d.y).backward();
  EXPECT_FALSE(r.opt->step(1e-2).skipped);
  EXPECT_EQ(r.opt->step_count(), 1);
}

TEST(Zero, DifferentParametersOnSomeRankAreRefusedEverywhere) {
  if (world().world_size() == 1) GTEST_SKIP() << "needs two ranks";
  torch::nn::Sequential m = make_model();
  rd::ZeroOptimizer::NamedParameters p = named(m);
  if (world().rank() == 1) std::swap(p[0], p[1]);
  try {
    rd::ZeroOptimizer opt(world(), p, rd::ZeroConfig{});
    ADD_FAILURE() << "rank " << world().rank() << " accepted mismatched parameters";
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("different from rank 0"), std::string::npos) << e.what();
  }
}

}  // namespace
