#include "sharding/communicator.h"

#include <iomanip>
#include <sstream>

#include "common/error.h"

namespace rd {

const char* collective_name(Collective c) {
  switch (c) {
    case Collective::kAllReduce:
      return "all_reduce";
    case Collective::kReduceScatter:
      return "reduce_scatter";
    case Collective::kAllGather:
      return "all_gather";
    case Collective::kBroadcast:
      return "broadcast";
    case Collective::kBarrier:
      return "barrier";
  }
  return "?";
}

int64_t CommStats::total_bytes() const {
  int64_t s = 0;
  for (int64_t b : bytes) s += b;
  return s;
}

int64_t CommStats::total_calls() const {
  int64_t s = 0;
  for (int64_t c : calls) s += c;
  return s;
}

double CommStats::ring_bytes_sent(int world_size) const {
  return static_cast<double>(total_bytes()) * (world_size - 1) / world_size;
}

CommStats CommStats::operator-(const CommStats& earlier) const {
  CommStats d;
  for (int i = 0; i < kNumCollectives; ++i) {
    d.calls[i] = calls[i] - earlier.calls[i];
    d.bytes[i] = bytes[i] - earlier.bytes[i];
  }
  return d;
}

std::string CommStats::summary() const {
  std::ostringstream os;
  os << std::fixed << std::setprecision(3);
  const char* sep = "";
  for (int i = 0; i < kNumCollectives; ++i) {
    if (calls[i] == 0) continue;
    os << sep << collective_name(static_cast<Collective>(i)) << " " << calls[i] << " calls "
       << bytes[i] / 1e6 << " MB";
    sep = ", ";
  }
  return os.str();
}

void Communicator::check_bucket(const torch::Tensor& t, const char* what) const {
  READ_CHECK(t.defined(), backend(), " ", what, ": undefined tensor");
  READ_CHECK(t.is_contiguous(), backend(), " ", what, ": the bucket must be contiguous");
  READ_CHECK(t.device() == device(), backend(), " ", what, ": tensor on ", t.device(),
             ", this communicator works on ", device());
}

void Communicator::count(Collective c, int64_t bytes) {
  stats_.calls[static_cast<int>(c)] += 1;
  stats_.bytes[static_cast<int>(c)] += bytes;
}

void Communicator::all_reduce(torch::Tensor& t) {
  check_bucket(t, "all_reduce");
  count(Collective::kAllReduce, 2 * t.nbytes());
  do_all_reduce(t);
}

void Communicator::reduce_scatter(const torch::Tensor& input, torch::Tensor& output) {
  check_bucket(input, "reduce_scatter input");
  check_bucket(output, "reduce_scatter output");
  READ_CHECK(input.scalar_type() == output.scalar_type(), "reduce_scatter: input ",
             input.scalar_type(), " but output ", output.scalar_type());
  READ_CHECK(input.numel() == output.numel() * world_size(), "reduce_scatter: input has ",
             input.numel(), " elements, expected world_size (", world_size(), ") x output (",
             output.numel(), ")");
  count(Collective::kReduceScatter, input.nbytes());
  do_reduce_scatter(input, output);
}

void Communicator::all_gather(const torch::Tensor& input, torch::Tensor& output) {
  check_bucket(input, "all_gather input");
  check_bucket(output, "all_gather output");
  READ_CHECK(input.scalar_type() == output.scalar_type(), "all_gather: input ", input.scalar_type(),
             " but output ", output.scalar_type());
  READ_CHECK(output.numel() == input.numel() * world_size(), "all_gather: output has ",
             output.numel(), " elements, expected world_size (", world_size(), ") x input (",
             input.numel(), ")");
  count(Collective::kAllGather, output.nbytes());
  do_all_gather(input, output);
}

void Communicator::broadcast(torch::Tensor& t, int root) {
  check_bucket(t, "broadcast");
  READ_CHECK(root >= 0 && root < world_size(), "broadcast: root ", root, " outside [0, ",
             world_size(), ")");
  count(Collective::kBroadcast, t.nbytes());
  do_broadcast(t, root);
}

void Communicator::barrier() {
  count(Collective::kBarrier, 0);
  do_barrier();
}

}  // namespace rd
