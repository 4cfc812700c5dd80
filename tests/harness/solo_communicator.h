// A world of one process for single-process tests of collective code
// (CheckpointManager, ZeroOptimizer): every collective is the identity.
#pragma once
#include "sharding/communicator.h"

namespace rd::testing {

class SoloCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "solo"; }
  torch::Device device() const override { return torch::kCPU; }

 protected:
  void do_all_reduce(torch::Tensor&) override {}
  void do_reduce_scatter(const torch::Tensor& in, torch::Tensor& out) override { out.copy_(in); }
  void do_all_gather(const torch::Tensor& in, torch::Tensor& out) override { out.copy_(in); }
  void do_broadcast(torch::Tensor&, int) override {}
  void do_barrier() override {}
};

}  // namespace rd::testing
