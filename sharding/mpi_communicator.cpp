#include "sharding/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "common/error.h"

namespace rd {
namespace {

// Largest element count handed to one MPI call (counts are ints).
constexpr int64_t kMaxCount = int64_t{1} << 30;

bool is_16bit_float(torch::ScalarType t) { return t == torch::kBFloat16 || t == torch::kHalf; }

// The MPI type moving (and, except for 16-bit floats, reducing) `t`.
MPI_Datatype mpi_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat:
      return MPI_FLOAT;
    case torch::kDouble:
      return MPI_DOUBLE;
    case torch::kInt:
      return MPI_INT32_T;
    case torch::kLong:
      return MPI_INT64_T;
    case torch::kShort:
      return MPI_INT16_T;
    case torch::kChar:
      return MPI_INT8_T;
    case torch::kByte:
      return MPI_UINT8_T;
    case torch::kBool:
      return MPI_C_BOOL;
    case torch::kBFloat16:
    case torch::kHalf:
      return MPI_UINT16_T;  // moved as words, reduced in float32
    default:
      fail("mpi communicator: unsupported dtype ", t);
  }
}

int as_count(int64_t n, const char* what) {
  READ_CHECK(n <= INT_MAX, "mpi ", what, ": ", n, " elements per rank exceed MPI's int count");
  return static_cast<int>(n);
}

}  // namespace

double default_collective_timeout() {
  if (const char* s = std::getenv("READ_COLLECTIVE_TIMEOUT")) {
    char* end = nullptr;
    double v = std::strtod(s, &end);
    READ_CHECK(end != s && *end == '\0', "READ_COLLECTIVE_TIMEOUT='", s,
               "' is not a number of seconds");
    return v;
  }
  return 1800.0;
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, double timeout_seconds) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  READ_CHECK(initialized, "MpiCommunicator: MPI is not initialised (create an rd::MpiSession)");
  check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &world_size_);
  watchdog_ =
      std::make_unique<CollectiveWatchdog>(timeout_seconds, "rank " + std::to_string(rank_));
}

MpiCommunicator::~MpiCommunicator() {
  watchdog_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

void MpiCommunicator::check(int code, const char* what) const {
  if (code == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, msg, &len);
  fail("rank ", rank_, ": ", what, " failed: ", std::string(msg, len));
}

void MpiCommunicator::do_all_reduce(torch::Tensor& t) {
  CollectiveWatchdog::Guard guard(*watchdog_, "all_reduce", t.nbytes());
  torch::Tensor work = is_16bit_float(t.scalar_type()) ? t.to(torch::kFloat) : t;
  const MPI_Datatype type = mpi_type(work.scalar_type());
  char* p = static_cast<char*>(work.data_ptr());
  for (int64_t at = 0; at < work.numel(); at += kMaxCount) {
    int n = static_cast<int>(std::min(kMaxCount, work.numel() - at));
    check(MPI_Allreduce(MPI_IN_PLACE, p + at * work.element_size(), n, type, MPI_SUM, comm_),
          "MPI_Allreduce");
  }
  if (!work.is_same(t)) t.copy_(work);
}

void MpiCommunicator::do_reduce_scatter(const torch::Tensor& input, torch::Tensor& output) {
  CollectiveWatchdog::Guard guard(*watchdog_, "reduce_scatter", input.nbytes());
  const bool upcast = is_16bit_float(input.scalar_type());
  torch::Tensor in = upcast ? input.to(torch::kFloat) : input;
  torch::Tensor out = upcast ? torch::empty({output.numel()}, in.options()) : output;
  check(MPI_Reduce_scatter_block(in.data_ptr(), out.data_ptr(),
                                 as_count(out.numel(), "reduce_scatter"),
                                 mpi_type(in.scalar_type()), MPI_SUM, comm_),
        "MPI_Reduce_scatter_block");
  if (upcast) output.copy_(out.view_as(output));
}

void MpiCommunicator::do_all_gather(const torch::Tensor& input, torch::Tensor& output) {
  CollectiveWatchdog::Guard guard(*watchdog_, "all_gather", output.nbytes());
  const int n = as_count(input.numel(), "all_gather");
  const MPI_Datatype type = mpi_type(input.scalar_type());
  const char* own =
      static_cast<const char*>(output.data_ptr()) + static_cast<int64_t>(rank_) * input.nbytes();
  const bool in_place = input.data_ptr() == own;
  const char* in = static_cast<const char*>(input.data_ptr());
  const char* out = static_cast<const char*>(output.data_ptr());
  READ_CHECK(in_place || in + input.nbytes() <= out || out + output.nbytes() <= in,
             "all_gather: input overlaps output other than at this rank's chunk");
  check(MPI_Allgather(in_place ? MPI_IN_PLACE : input.data_ptr(), n, type, output.data_ptr(), n,
                      type, comm_),
        "MPI_Allgather");
}

void MpiCommunicator::do_broadcast(torch::Tensor& t, int root) {
  CollectiveWatchdog::Guard guard(*watchdog_, "broadcast", t.nbytes());
  const MPI_Datatype type = mpi_type(t.scalar_type());
  char* p = static_cast<char*>(t.data_ptr());
  for (int64_t at = 0; at < t.numel(); at += kMaxCount) {
    int n = static_cast<int>(std::min(kMaxCount, t.numel() - at));
    check(MPI_Bcast(p + at * t.element_size(), n, type, root, comm_), "MPI_Bcast");
  }
}

void MpiCommunicator::do_barrier() {
  CollectiveWatchdog::Guard guard(*watchdog_, "barrier", 0);
  check(MPI_Barrier(comm_), "MPI_Barrier");
}

}  // namespace rd
