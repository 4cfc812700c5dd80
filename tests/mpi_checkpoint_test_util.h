// Shared by the MPI checkpoint tests (test_mpi_checkpoints_*_npN.cpp): a
// tiny model (three Linear layers, 467 parameters: partitions are padded)
// trained with ZeroOptimizer stage 2 on this rank's share of a fixed batch,
// per-test temporary folders and comparisons.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "checkpoints/training_checkpoint.h"
#include "sharding/zero_optimizer.h"
#include "tests/harness/mpi_environment.h"

namespace {

namespace fs = std::filesystem;
using rd::testing::MpiEnvironment;

rd::Communicator& world() { return MpiEnvironment::world(); }

constexpr int kN = 3;  // steps before and after the checkpoint
const double kLr[2 * kN] = {1e-2, 2e-2, 3e-2, 2e-2, 1e-2, 5e-3};

struct Data {
  torch::Tensor x, y;
};

Data batch() {
  torch::manual_seed(1234);
  return {torch::randn({8, 8}), torch::randn({8, 3})};
}

torch::nn::Sequential make_model(uint64_t seed = 42) {
  torch::manual_seed(seed);
  return torch::nn::Sequential(torch::nn::Linear(8, 16), torch::nn::Tanh(), torch::nn::Linear(16, 16),
                               torch::nn::Tanh(), torch::nn::Linear(16, 3));
}

rd::ZeroOptimizer::NamedParameters named(torch::nn::Sequential& m) {
  rd::ZeroOptimizer::NamedParameters out;
  for (auto& kv : m->named_parameters()) out.emplace_back(kv.key(), kv.value());
  return out;
}

rd::StateDict params_of(torch::nn::Sequential& m) {
  rd::StateDict out;
  for (auto& kv : m->named_parameters()) out[kv.key()] = kv.value().detach().clone();
  return out;
}

rd::ZeroConfig config() {
  rd::ZeroConfig cfg;
  cfg.stage = 2;
  cfg.adamw.weight_decay = 0.1;
  cfg.max_grad_norm = 0.6;
  return cfg;
}

struct Trained {
  torch::nn::Sequential model;
  std::unique_ptr<rd::ZeroOptimizer> opt;
};

Trained fresh(rd::Communicator& comm, uint64_t seed = 42) {
  Trained r{make_model(seed), nullptr};
  r.opt = std::make_unique<rd::ZeroOptimizer>(comm, named(r.model), config());
  return r;
}

// Steps [first, last) on this rank's share of the batch.
void train(rd::Communicator& comm, Trained& r, const Data& d, int first, int last) {
  const int64_t local = d.x.size(0) / comm.world_size();
  const torch::Tensor x = d.x.narrow(0, comm.rank() * local, local);
  const torch::Tensor y = d.y.narrow(0, comm.rank() * local, local);
  for (int s = first; s < last; ++s) {
    (r.model->forward(x) - y).pow(2).mean().backward();
    r.opt->step(kLr[s]);
  }
}

// One directory per test, the same on every rank, removed afterwards.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    torch::Tensor pid = torch::full({1}, static_cast<double>(::getpid()), torch::kDouble);
    world().broadcast(pid, 0);
    path = fs::temp_directory_path() /
           ("read_ckpt_test_" + std::to_string(static_cast<int64_t>(pid.item<double>())) + "_" + name);
    if (world().rank() == 0) {
      fs::remove_all(path);
      fs::create_directories(path);
    }
    world().barrier();
  }
  ~TempDir() {
    world().barrier();
    if (world().rank() == 0) fs::remove_all(path);
  }
};

void set_rng(const torch::Tensor& state) {
  at::Generator g = at::detail::getDefaultCPUGenerator();  // a handle on the global generator
  g.set_state(state);
}

rd::CheckpointSave save_of(Trained& r, int64_t step) {
  rd::CheckpointSave c;
  c.step = step;
  c.trainer_state = {{"sampler_epoch", 0}, {"samples_seen", 8 * step}};
  c.trainable = params_of(r.model);
  c.shard = r.opt->local_state();
  c.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  return c;
}

void expect_equal(const rd::StateDict& got, const rd::StateDict& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (const auto& [k, v] : want) {
    ASSERT_TRUE(got.count(k)) << what << ": no " << k;
    EXPECT_TRUE(torch::equal(got.at(k), v)) << what << ": " << k << " differs, max abs "
                                            << (got.at(k) - v).abs().max().item<double>();
  }
}

void expect_equal(const rd::ZeroShardState& got, const rd::ZeroShardState& want, const std::string& what) {
  EXPECT_EQ(got.step, want.step) << what;
  EXPECT_EQ(got.rank, want.rank) << what;
  EXPECT_TRUE(got.layout == want.layout) << what;
  EXPECT_TRUE(torch::equal(got.master, want.master)) << what << ": master";
  EXPECT_TRUE(torch::equal(got.exp_avg, want.exp_avg)) << what << ": exp_avg";
  EXPECT_TRUE(torch::equal(got.exp_avg_sq, want.exp_avg_sq)) << what << ": exp_avg_sq";
}

std::string latest_of(const fs::path& dir) {
  std::ifstream f(dir / "latest");
  std::string s;
  f >> s;
  return s;
}

}  // namespace
