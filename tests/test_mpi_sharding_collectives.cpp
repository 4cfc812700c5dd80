// Collectives of the MPI communicator, checked on however many ranks mpirun
// starts (ctest runs it on 1, 2 and 4): results
// against closed forms, in-place variants, 16-bit floats, byte counters and
// argument errors.
//
// mpi ranks: 1 2 4
#include <gtest/gtest.h>

#include "common/error.h"
#include "sharding/make_communicator.h"
#include "tests/harness/mpi_environment.h"

namespace {

using rd::testing::MpiEnvironment;

rd::Communicator& world() { return MpiEnvironment::world(); }

torch::Tensor arange(int64_t n, torch::ScalarType dtype) {
  return torch::arange(n, torch::TensorOptions().dtype(torch::kDouble)).to(dtype);
}

class Collectives : public ::testing::TestWithParam<torch::ScalarType> {};

TEST_P(Collectives, AllReduceSums) {
  const torch::ScalarType dtype = GetParam();
  const int r = world().rank(), n = world().world_size();
  for (int64_t size : {1, 7, 100003}) {
    // Small integers: exact in every dtype, so any dtype must match exactly.
    torch::Tensor t = (arange(size, torch::kDouble).remainder(17) * (r + 1)).to(dtype);
    world().all_reduce(t);
    torch::Tensor want = (arange(size, torch::kDouble).remainder(17) * (n * (n + 1) / 2)).to(dtype);
    EXPECT_TRUE(torch::equal(t, want)) << "dtype " << dtype << " size " << size;
  }
}

TEST_P(Collectives, ReduceScatterSumsOwnChunk) {
  const torch::ScalarType dtype = GetParam();
  const int r = world().rank(), n = world().world_size();
  const int64_t chunk = 5;
  torch::Tensor in = (arange(n * chunk, torch::kDouble) + 10 * r).to(dtype);
  torch::Tensor out = torch::full({chunk}, -1, dtype);
  world().reduce_scatter(in, out);
  // sum over ranks q of (r * chunk + i + 10 q)
  torch::Tensor want = (arange(chunk, torch::kDouble) + r * chunk) * n + 10.0 * n * (n - 1) / 2;
  EXPECT_TRUE(torch::equal(out, want.to(dtype))) << out << want;
}

TEST_P(Collectives, AllGatherInRankOrder) {
  const torch::ScalarType dtype = GetParam();
  const int r = world().rank(), n = world().world_size();
  torch::Tensor in = (arange(3, torch::kDouble) + 100 * r).to(dtype);
  torch::Tensor out = torch::zeros({3 * n}, dtype);
  world().all_gather(in, out);
  for (int q = 0; q < n; ++q)
    EXPECT_TRUE(
        torch::equal(out.narrow(0, 3 * q, 3), (arange(3, torch::kDouble) + 100 * q).to(dtype)));
  // In place: the input is this rank's chunk of the output.
  torch::Tensor buf = torch::zeros({3 * n}, dtype);
  torch::Tensor own = buf.narrow(0, 3 * r, 3);
  own.copy_(arange(3, torch::kDouble) + 7 * r);
  world().all_gather(own, buf);
  for (int q = 0; q < n; ++q)
    EXPECT_TRUE(
        torch::equal(buf.narrow(0, 3 * q, 3), (arange(3, torch::kDouble) + 7 * q).to(dtype)));
}

TEST_P(Collectives, BroadcastFromLastRank) {
  const torch::ScalarType dtype = GetParam();
  const int r = world().rank(), n = world().world_size();
  torch::Tensor t = (arange(9, torch::kDouble) + r).to(dtype);
  world().broadcast(t, n - 1);
  EXPECT_TRUE(torch::equal(t, (arange(9, torch::kDouble) + (n - 1)).to(dtype)));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Collectives,
                         ::testing::Values(torch::kFloat, torch::kDouble, torch::kLong, torch::kInt,
                                           torch::kBFloat16, torch::kHalf));

TEST(Collectives, Bf16ReducesInFloat32) {
  // Rank 0 holds 256, the others 1: bf16 (spacing 2 at 256) cannot hold the
  // partial sums 257, 259, ..., so summing hop by hop in bf16 depends on the
  // order and loses the ones; the fp32 reduction rounds the exact sum once.
  const int n = world().world_size();
  torch::Tensor t = torch::full({4}, world().rank() == 0 ? 256.0 : 1.0, torch::kBFloat16);
  world().all_reduce(t);
  const float want = torch::tensor(255.0 + n).to(torch::kBFloat16).item<float>();
  EXPECT_EQ(t[0].item<float>(), want);
}

TEST(Collectives, ByteCountersFollowZeroAccounting) {
  const int n = world().world_size();
  const rd::CommStats before = world().stats();
  torch::Tensor a = torch::ones({10});
  world().all_reduce(a);
  torch::Tensor rs_in = torch::ones({4 * n}), rs_out = torch::empty({4});
  world().reduce_scatter(rs_in, rs_out);
  torch::Tensor ag_in = torch::ones({6}), ag_out = torch::empty({6 * n});
  world().all_gather(ag_in, ag_out);
  torch::Tensor b = torch::ones({3}, torch::kDouble);
  world().broadcast(b, 0);
  world().barrier();
  const rd::CommStats d = world().stats() - before;
  using C = rd::Collective;
  EXPECT_EQ(d.bytes[int(C::kAllReduce)], 2 * 10 * 4);
  EXPECT_EQ(d.bytes[int(C::kReduceScatter)], 4 * n * 4);
  EXPECT_EQ(d.bytes[int(C::kAllGather)], 6 * n * 4);
  EXPECT_EQ(d.bytes[int(C::kBroadcast)], 3 * 8);
  EXPECT_EQ(d.bytes[int(C::kBarrier)], 0);
  for (int i = 0; i < rd::kNumCollectives; ++i) EXPECT_EQ(d.calls[i], 1) << i;
  EXPECT_EQ(d.total_bytes(), 80 + 16 * n + 24 * n + 24);
  EXPECT_DOUBLE_EQ(d.ring_bytes_sent(n), d.total_bytes() * (n - 1.0) / n);
}

TEST(Collectives, BadArgumentsThrowOnEveryRankBeforeCommunicating) {
  const int n = world().world_size();
  torch::Tensor in = torch::ones({4 * n + 1}), out = torch::empty({4});
  EXPECT_THROW(world().reduce_scatter(in, out), rd::Error);
  torch::Tensor gathered = torch::empty({3 * n + 2});
  EXPECT_THROW(world().all_gather(torch::ones({3}), gathered), rd::Error);
  torch::Tensor strided = torch::ones({4, 4}).t();
  EXPECT_THROW(world().all_reduce(strided), rd::Error);
  torch::Tensor mixed = torch::empty({4}, torch::kDouble);
  EXPECT_THROW(world().reduce_scatter(torch::ones({4 * n}), mixed), rd::Error);
  torch::Tensor t = torch::ones({2});
  EXPECT_THROW(world().broadcast(t, n), rd::Error);
  world().barrier();  // still in step
}

TEST(Collectives, SubCommunicatorOfOneRank) {
  rd::MpiCommunicator self(MPI_COMM_SELF, 10.0);
  EXPECT_EQ(self.world_size(), 1);
  EXPECT_EQ(self.rank(), 0);
  torch::Tensor t = torch::full({3}, 2.0f + world().rank());
  self.all_reduce(t);
  EXPECT_TRUE(torch::equal(t, torch::full({3}, 2.0f + world().rank())));
}

TEST(Collectives, FactoryPicksBackendByDevice) {
  auto c = rd::make_communicator({"auto", torch::kCPU, 10.0});
  EXPECT_EQ(c->backend(), "mpi");
  EXPECT_EQ(c->world_size(), world().world_size());
  EXPECT_THROW(rd::make_communicator({"bogus", torch::kCPU, 10.0}), rd::Error);
  EXPECT_THROW(rd::make_communicator({"mpi", torch::Device(torch::kCUDA, 0), 10.0}), rd::Error);
  if (!rd::nccl_available()) {
    try {
      rd::make_communicator({"auto", torch::Device(torch::kCUDA, 0), 10.0});
      ADD_FAILURE() << "a CUDA device without NCCL must be refused";
    } catch (const rd::Error& e) {
      EXPECT_NE(std::string(e.what()).find("NCCL"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
