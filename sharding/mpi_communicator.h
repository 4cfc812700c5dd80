// MpiCommunicator: the Communicator over Open MPI on CPU tensors.
//
// Dtypes: float32/64 and integer buckets reduce natively. MPI has no bfloat16
// or float16 type; those buckets are moved as 16-bit words (all_gather,
// broadcast) and REDUCED IN FLOAT32: converted to a float32 scratch, summed,
// rounded back once. Chosen over a custom MPI_Op summing in 16 bits because a
// ring or tree reduction would round at every hop (world-1 roundings); the
// price is twice the wire bytes for 16-bit reductions (the byte counters
// count the bucket's own bytes; the ZeRO optimizer reduces float32 anyway).
//
// Errors (MPI_ERRORS_RETURN on a private duplicate of the communicator) are
// thrown as rd::Error naming the collective. A collective that does not end
// within `timeout_seconds` ends the process (CollectiveWatchdog).
#pragma once
#include <mpi.h>

#include <memory>

#include "sharding/communicator.h"
#include "sharding/watchdog.h"

namespace rd {

// Seconds: $READ_COLLECTIVE_TIMEOUT if set, else 1800 (30 min, like c10d).
double default_collective_timeout();

class MpiCommunicator : public Communicator {
 public:
  // `comm` is duplicated (MPI must be initialised, e.g. by an MpiSession).
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD,
                           double timeout_seconds = default_collective_timeout());
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string backend() const override { return "mpi"; }
  torch::Device device() const override { return torch::kCPU; }
  MPI_Comm comm() const { return comm_; }

 protected:
  void do_all_reduce(torch::Tensor& t) override;
  void do_reduce_scatter(const torch::Tensor& input, torch::Tensor& output) override;
  void do_all_gather(const torch::Tensor& input, torch::Tensor& output) override;
  void do_broadcast(torch::Tensor& t, int root) override;
  void do_barrier() override;

 private:
  void check(int code, const char* what) const;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, world_size_ = 1;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
};

}  // namespace rd
