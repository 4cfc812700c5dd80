#include "sharding/make_communicator.h"

#include "common/error.h"
#include "sharding/nccl_communicator.h"

namespace rd {

bool nccl_available() {
#ifdef READ_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Communicator> make_communicator(const CommunicatorOptions& o, MPI_Comm comm) {
  std::string backend = o.backend;
  if (backend == "auto") backend = o.device.is_cuda() ? "nccl" : "mpi";
  if (backend == "mpi") {
    READ_CHECK(o.device.is_cpu(), "the MPI backend works on CPU tensors, not ", o.device,
               " (use backend nccl or auto)");
    return std::make_unique<MpiCommunicator>(comm, o.timeout_seconds);
  }
  READ_CHECK(backend == "nccl", "unknown communicator backend '", o.backend,
             "' (expected auto, mpi or nccl)");
  READ_CHECK(o.device.is_cuda(), "the NCCL backend works on CUDA tensors, not ", o.device);
#ifdef READ_WITH_NCCL
  int index = o.device.has_index() ? o.device.index() : -1;
  if (index < 0) {  // this rank's position among the ranks of its host
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm local;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &index);
    MPI_Comm_free(&local);
  }
  return std::make_unique<NcclCommunicator>(comm, index, o.timeout_seconds);
#else
  fail("the NCCL backend was requested for ", o.device,
       " but this build has none (CMake found no CUDA LibTorch with NCCL)");
#endif
}

}  // namespace rd
