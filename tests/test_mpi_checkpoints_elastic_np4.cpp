// Elastic resume across world sizes on 4 MPI ranks (issue 6): a checkpoint
// saved on 4 ranks resumes on 2 (ranks 0-1 in their own communicator), and
// one saved on 2 ranks resumes on 4. The partition each rank loads is the
// consolidated state re-sharded for its layout, the per-rank RNG states are
// dropped, and N more steps match the straight 4-rank run within
// floating-point tolerance (the reduction order differs).
#include <gtest/gtest.h>

#include <memory>

#include "checkpoints/training_checkpoint.h"
#include "sharding/mpi_communicator.h"
#include "tests/mpi_checkpoint_test_util.h"

namespace {

// Ranks 0 and 1 of the world as a communicator of their own (nullptr on the
// others). Collective over the world.
std::unique_ptr<rd::MpiCommunicator> first_two() {
  MPI_Comm sub = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, world().rank() < 2 ? 0 : MPI_UNDEFINED, world().rank(), &sub);
  return sub == MPI_COMM_NULL ? nullptr : std::make_unique<rd::MpiCommunicator>(sub, 60.0);
}

void expect_close(const rd::StateDict& got, const rd::StateDict& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (const auto& [k, v] : want)
    EXPECT_TRUE(torch::allclose(got.at(k), v, 1e-5, 1e-6))
        << what << ": " << k << " max abs diff " << (got.at(k) - v).abs().max().item<double>();
}

TEST(Elastic, SavedOnFourResumesOnTwo) {
  ASSERT_EQ(world().world_size(), 4);
  TempDir tmp("4to2");
  const Data d = batch();
  Trained whole = fresh(world());
  train(world(), whole, d, 0, 2 * kN);
  Trained a = fresh(world());
  train(world(), a, d, 0, kN);
  rd::CheckpointManager(tmp.path.string(), world()).save(save_of(a, kN));
  const rd::ConsolidatedState full = a.opt->export_consolidated();

  std::unique_ptr<rd::MpiCommunicator> two = first_two();
  if (two) {
    Trained b = fresh(*two, 999);
    auto l = rd::CheckpointManager(tmp.path.string(), *two).load_latest(b.opt->layout());
    ASSERT_TRUE(l.has_value());
    EXPECT_TRUE(l->resharded);
    EXPECT_FALSE(l->rng_state.defined()) << "another world size's RNG state restored";
    EXPECT_EQ(l->trainer_state.at("world_size").get<int>(), 4);
    expect_equal(l->shard, rd::shard_consolidated(full, b.opt->layout(), two->rank()), "4 -> 2 partition");
    b.opt->load_local_state(l->shard);
    train(*two, b, d, kN, 2 * kN);
    expect_close(params_of(b.model), params_of(whole.model), "4 -> 2, then N steps on 2 ranks");
  }
}

TEST(Elastic, SavedOnTwoResumesOnFour) {
  ASSERT_EQ(world().world_size(), 4);
  TempDir tmp("2to4");
  const Data d = batch();
  Trained whole = fresh(world());
  train(world(), whole, d, 0, 2 * kN);
  rd::ConsolidatedState full;
  std::unique_ptr<rd::MpiCommunicator> two = first_two();
  if (two) {
    Trained a = fresh(*two);
    train(*two, a, d, 0, kN);
    rd::CheckpointManager(tmp.path.string(), *two).save(save_of(a, kN));
    full = a.opt->export_consolidated();
  }
  world().barrier();

  Trained b = fresh(world(), 999);
  auto l = rd::CheckpointManager(tmp.path.string(), world()).load_latest(b.opt->layout());
  ASSERT_TRUE(l.has_value());
  EXPECT_TRUE(l->resharded);
  EXPECT_EQ(l->trainer_state.at("world_size").get<int>(), 2);
  if (two) expect_equal(l->shard, rd::shard_consolidated(full, b.opt->layout(), world().rank()), "2 -> 4 partition");
  b.opt->load_local_state(l->shard);
  train(world(), b, d, kN, 2 * kN);
  expect_close(params_of(b.model), params_of(whole.model), "2 -> 4, then N steps on 4 ranks");
}

}  // namespace
