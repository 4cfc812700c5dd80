// make_communicator: the backend for a device. "auto" picks NCCL for a CUDA
// device (when built with NCCL) and MPI for the CPU.
#pragma once
#include <mpi.h>

#include <memory>
#include <string>

#include "sharding/communicator.h"
#include "sharding/mpi_communicator.h"

namespace rd {

struct CommunicatorOptions {
  std::string backend = "auto";  // "auto", "mpi", "nccl"
  // CPU, or CUDA; a CUDA device without an index means this rank's local rank.
  torch::Device device = torch::kCPU;
  double timeout_seconds = default_collective_timeout();
};

// Collective over `comm` (MPI must be initialised: rd::MpiSession).
std::unique_ptr<Communicator> make_communicator(const CommunicatorOptions& options,
                                                MPI_Comm comm = MPI_COMM_WORLD);

// Whether this build has the NCCL backend.
bool nccl_available();

}  // namespace rd
