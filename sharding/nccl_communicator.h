// NcclCommunicator: the Communicator over NCCL on CUDA tensors. Compiled only
// when CMake found a CUDA LibTorch and NCCL (READ_WITH_NCCL). The NCCL unique
// id is made by rank 0 and broadcast over MPI.
//
// Collectives are enqueued on the device's current CUDA stream (so they are
// ordered with the surrounding torch work) and then waited for on the host,
// which keeps the same blocking contract as the MPI backend. While waiting,
// NCCL's asynchronous errors are polled; an error or a wait longer than
// `timeout_seconds` aborts the NCCL communicator and throws rd::Error (which
// MpiSession turns into an MPI_Abort of the job).
//
// NOT RUN on the development machine (no GPU); written against the NCCL >= 2.7
// and c10 CUDA APIs and checked by reading only.
#pragma once
#ifdef READ_WITH_NCCL
#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

#include "sharding/communicator.h"

namespace rd {

class NcclCommunicator : public Communicator {
 public:
  // Collective over `mpi_comm`; `device_index` is this rank's GPU.
  NcclCommunicator(MPI_Comm mpi_comm, int device_index, double timeout_seconds);
  ~NcclCommunicator() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string backend() const override { return "nccl"; }
  torch::Device device() const override {
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_index_));
  }

 protected:
  void do_all_reduce(torch::Tensor& t) override;
  void do_reduce_scatter(const torch::Tensor& input, torch::Tensor& output) override;
  void do_all_gather(const torch::Tensor& input, torch::Tensor& output) override;
  void do_broadcast(torch::Tensor& t, int root) override;
  void do_barrier() override;

 private:
  cudaStream_t stream() const;
  void check(ncclResult_t r, const char* what);
  // Blocks until the collective just enqueued on stream() has completed.
  void wait(const char* what);

  ncclComm_t comm_ = nullptr;
  cudaEvent_t done_ = nullptr;
  int rank_ = 0, world_size_ = 1, device_index_ = 0;
  double timeout_;
  torch::Tensor barrier_word_;
};

}  // namespace rd
#endif  // READ_WITH_NCCL
