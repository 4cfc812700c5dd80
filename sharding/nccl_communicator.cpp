#ifdef READ_WITH_NCCL
#include "sharding/nccl_communicator.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <chrono>
#include <thread>

#include "common/error.h"

namespace rd {
namespace {

ncclDataType_t nccl_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat:
      return ncclFloat32;
    case torch::kDouble:
      return ncclFloat64;
    case torch::kHalf:
      return ncclFloat16;
    case torch::kInt:
      return ncclInt32;
    case torch::kLong:
      return ncclInt64;
    case torch::kChar:
      return ncclInt8;
    case torch::kByte:
      return ncclUint8;
    case torch::kBool:
      return ncclUint8;  // moved only (broadcast, all_gather)
#if defined(NCCL_VERSION_CODE) && NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0) && \
    defined(__CUDA_BF16_TYPES_EXIST__)  // nccl.h declares ncclBfloat16 only then
    case torch::kBFloat16:
      return ncclBfloat16;
#endif
    default:
      fail("nccl communicator: unsupported dtype ", t);
  }
}

void check_cuda(cudaError_t e, const char* what) {
  READ_CHECK(e == cudaSuccess, what, " failed: ", cudaGetErrorString(e));
}

}  // namespace

NcclCommunicator::NcclCommunicator(MPI_Comm mpi_comm, int device_index, double timeout_seconds)
    : device_index_(device_index), timeout_(timeout_seconds) {
  MPI_Comm_rank(mpi_comm, &rank_);
  MPI_Comm_size(mpi_comm, &world_size_);
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_index_));
  ncclUniqueId id;
  if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  READ_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, mpi_comm) == MPI_SUCCESS, "rank ", rank_,
             ": broadcasting the NCCL unique id over MPI failed");
  check(ncclCommInitRank(&comm_, world_size_, id, rank_), "ncclCommInitRank");
  check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "cudaEventCreate");
  barrier_word_ = torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat).device(device()));
}

NcclCommunicator::~NcclCommunicator() {
  if (done_) cudaEventDestroy(done_);
  if (comm_) ncclCommDestroy(comm_);
}

cudaStream_t NcclCommunicator::stream() const {
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_index_)).stream();
}

void NcclCommunicator::check(ncclResult_t r, const char* what) {
  if (r == ncclSuccess) return;
  fail("rank ", rank_, ": ", what, " failed: ", ncclGetErrorString(r));
}

void NcclCommunicator::wait(const char* what) {
  check_cuda(cudaEventRecord(done_, stream()), "cudaEventRecord");
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(timeout_));
  for (;;) {
    const cudaError_t q = cudaEventQuery(done_);
    if (q == cudaSuccess) return;
    if (q != cudaErrorNotReady) check_cuda(q, what);
    ncclResult_t async = ncclSuccess;
    check(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
    const bool late = timeout_ > 0 && std::chrono::steady_clock::now() > deadline;
    if (async != ncclSuccess || late) {
      ncclCommAbort(comm_);  // unblocks the kernels; the communicator is unusable after
      comm_ = nullptr;
      if (async != ncclSuccess)
        fail("rank ", rank_, ": nccl ", what, " failed: ", ncclGetErrorString(async));
      fail("rank ", rank_, ": nccl ", what, " did not complete within ", timeout_,
           " s: a peer rank failed or hangs");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

void NcclCommunicator::do_all_reduce(torch::Tensor& t) {
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_index_));
  check(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                      nccl_type(t.scalar_type()), ncclSum, comm_, stream()),
        "ncclAllReduce");
  wait("all_reduce");
}

void NcclCommunicator::do_reduce_scatter(const torch::Tensor& input, torch::Tensor& output) {
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_index_));
  check(ncclReduceScatter(input.data_ptr(), output.data_ptr(), static_cast<size_t>(output.numel()),
                          nccl_type(input.scalar_type()), ncclSum, comm_, stream()),
        "ncclReduceScatter");
  wait("reduce_scatter");
}

void NcclCommunicator::do_all_gather(const torch::Tensor& input, torch::Tensor& output) {
  // NCCL is in place when input == output + rank * count, as the interface allows.
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_index_));
  check(ncclAllGather(input.data_ptr(), output.data_ptr(), static_cast<size_t>(input.numel()),
                      nccl_type(input.scalar_type()), comm_, stream()),
        "ncclAllGather");
  wait("all_gather");
}

void NcclCommunicator::do_broadcast(torch::Tensor& t, int root) {
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_index_));
  check(ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                      nccl_type(t.scalar_type()), root, comm_, stream()),
        "ncclBroadcast");
  wait("broadcast");
}

void NcclCommunicator::do_barrier() {
  // NCCL has no barrier: a one-word all-reduce waited for on the host.
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_index_));
  check(ncclAllReduce(barrier_word_.data_ptr(), barrier_word_.data_ptr(), 1, ncclFloat32, ncclSum,
                      comm_, stream()),
        "ncclAllReduce (barrier)");
  wait("barrier");
}

}  // namespace rd
#endif  // READ_WITH_NCCL
