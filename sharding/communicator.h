// Communicator: the collectives data-parallel training needs, on flat
// contiguous buckets (one torch::Tensor each), in the manner of PyTorch
// c10d's ProcessGroup. Backends: MpiCommunicator (CPU tensors) and
// NcclCommunicator (CUDA tensors); make_communicator() picks one.
//
// Every collective is blocking for the host and must be entered by every rank
// of the group in the same order with matching sizes and dtypes. Reductions
// are sums; callers average themselves.
//
// Byte counters: each collective adds the payload it moves per rank in the
// accounting of the ZeRO paper (Rajbhandari et al. 2020, section 7):
//   all_reduce     2 x buffer bytes (a reduce-scatter plus an all-gather)
//   reduce_scatter     input bytes  (the full buffer being reduced)
//   all_gather         output bytes (the full buffer being gathered)
//   broadcast          buffer bytes
//   barrier        0
// A ring implementation actually sends (world-1)/world of these from each
// rank (ring_bytes_sent()); the paper's figures (data parallel = ZeRO-1 =
// ZeRO-2 = 2 x parameters) are in the first accounting.
#pragma once
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>

namespace rd {

enum class Collective { kAllReduce = 0, kReduceScatter, kAllGather, kBroadcast, kBarrier };
constexpr int kNumCollectives = 5;
const char* collective_name(Collective c);

struct CommStats {
  std::array<int64_t, kNumCollectives> calls{};
  std::array<int64_t, kNumCollectives> bytes{};  // ZeRO-paper accounting (see above)

  int64_t total_bytes() const;
  int64_t total_calls() const;
  // What a ring algorithm sends from one rank: total_bytes x (world-1)/world.
  double ring_bytes_sent(int world_size) const;
  CommStats operator-(const CommStats& earlier) const;
  std::string summary() const;  // "all_reduce 2 calls 1.2 MB, ..." (non-zero ones)
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;  // "mpi", "nccl"
  // Where this backend's tensors live (CPU for MPI, the rank's GPU for NCCL).
  virtual torch::Device device() const = 0;

  // In place: t = sum over ranks of t.
  void all_reduce(torch::Tensor& t);
  // input holds world_size equal chunks; output (input.numel()/world_size
  // elements) receives the sum over ranks of chunk `rank()`.
  void reduce_scatter(const torch::Tensor& input, torch::Tensor& output);
  // output (world_size x input.numel() elements) receives every rank's input,
  // in rank order. input may be output's chunk `rank()` (in place).
  void all_gather(const torch::Tensor& input, torch::Tensor& output);
  // In place: t = root's t.
  void broadcast(torch::Tensor& t, int root);
  void barrier();

  const CommStats& stats() const { return stats_; }
  void reset_stats() { stats_ = CommStats{}; }

 protected:
  Communicator() = default;
  virtual void do_all_reduce(torch::Tensor& t) = 0;
  virtual void do_reduce_scatter(const torch::Tensor& input, torch::Tensor& output) = 0;
  virtual void do_all_gather(const torch::Tensor& input, torch::Tensor& output) = 0;
  virtual void do_broadcast(torch::Tensor& t, int root) = 0;
  virtual void do_barrier() = 0;

 private:
  void check_bucket(const torch::Tensor& t, const char* what) const;
  void count(Collective c, int64_t bytes);
  CommStats stats_;
};

}  // namespace rd
