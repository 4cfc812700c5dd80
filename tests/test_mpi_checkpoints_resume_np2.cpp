// CheckpointManager on 2 ranks with a tiny model (three Linear layers, 467
// parameters: partitions are padded) and ZeroOptimizer stage 2:
//  - exact resume: 2N steps straight == N steps, save, fresh model and
//    optimizer, load_latest, N steps (bit for bit, weights and state);
//  - elastic resume: the world-2 checkpoint loaded re-sharded for one rank
//    equals the consolidated state, and training on from it on one rank
//    matches the 2-rank run; read_ckpt reshard's write_resharded likewise;
//  - a flipped byte in a shard is an error naming that file, on every rank;
//  - keep_last pruning; an interrupted save leaves `latest` on the previous
//    checkpoint; a full disk (64 KiB tmpfs) fails the save on every rank and
//    keeps the previous checkpoint loadable.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "checkpoints/ckpt_cli.h"
#include "checkpoints/ckpt_convert.h"
#include "checkpoints/ckpt_inspect.h"
#include "checkpoints/formats/safetensors.h"
#include "checkpoints/training_checkpoint.h"
#include "common/error.h"
#include "sharding/zero_optimizer.h"
#include "tests/harness/mpi_environment.h"
#include "tests/mpi_checkpoint_test_util.h"

namespace {

TEST(Checkpoint, ExactResumeIsBitForBit) {
  TempDir tmp("exact");
  const Data d = batch();
  Trained whole = fresh(world());
  train(world(), whole, d, 0, 2 * kN);

  Trained a = fresh(world());
  train(world(), a, d, 0, kN);
  rd::CheckpointManager mgr(tmp.path.string(), world());
  torch::manual_seed(77 + world().rank());
  const torch::Tensor rng = at::detail::getDefaultCPUGenerator().get_state();
  const torch::Tensor next_random = torch::rand({4});
  set_rng(rng);
  mgr.save(save_of(a, kN));
  EXPECT_EQ(latest_of(tmp.path), "step_" + std::to_string(kN));

  // A fresh "process": other initial weights and RNG, then the checkpoint.
  Trained b = fresh(world(), 999);
  torch::manual_seed(5);
  rd::CheckpointManager mgr2(tmp.path.string(), world());
  auto loaded = mgr2.load_latest(b.opt->layout());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_FALSE(loaded->resharded);
  EXPECT_EQ(loaded->step, kN);
  EXPECT_EQ(loaded->trainer_state.at("samples_seen").get<int64_t>(), 8 * kN);
  EXPECT_EQ(loaded->trainer_state.at("world_size").get<int>(), 2);
  expect_equal(loaded->trainable, params_of(a.model), "consolidated trainable weights");
  expect_equal(loaded->shard, a.opt->local_state(), "this rank's partition");
  ASSERT_TRUE(loaded->rng_state.defined());
  set_rng(loaded->rng_state);
  EXPECT_TRUE(torch::equal(torch::rand({4}), next_random)) << "RNG state not restored";
  b.opt->load_local_state(loaded->shard);
  train(world(), b, d, kN, 2 * kN);
  expect_equal(params_of(b.model), params_of(whole.model), "weights after resume");
  expect_equal(b.opt->local_state(), whole.opt->local_state(), "optimizer state after resume");
}

TEST(Checkpoint, ElasticResumeReshardsForOneRank) {
  TempDir tmp("elastic");
  const Data d = batch();
  Trained whole = fresh(world());
  train(world(), whole, d, 0, 2 * kN);
  Trained a = fresh(world());
  train(world(), a, d, 0, kN);
  rd::CheckpointManager mgr(tmp.path.string(), world());
  mgr.save(save_of(a, kN));
  const rd::ConsolidatedState full = a.opt->export_consolidated();  // collective
  const fs::path step_dir = tmp.path / ("step_" + std::to_string(kN));

  if (world().rank() == 0) {
    const rd::PartitionLayout one = a.opt->layout().resharded(1);
    rd::CheckpointLoad l = rd::CheckpointManager::load(step_dir.string(), one, 0);
    EXPECT_TRUE(l.resharded);
    EXPECT_FALSE(l.rng_state.defined());
    expect_equal(l.shard, rd::shard_consolidated(full, one, 0), "re-sharded for one rank");
    EXPECT_EQ(l.shard.step, kN);

    // Continue on one rank: the same as the 2-rank run up to the reduction order.
    rd::MpiCommunicator self(MPI_COMM_SELF, 10.0);
    Trained b = fresh(self, 999);
    b.opt->load_local_state(l.shard);
    train(self, b, d, kN, 2 * kN);
    for (const auto& [k, v] : params_of(whole.model))
      EXPECT_TRUE(torch::allclose(params_of(b.model).at(k), v, 1e-5, 1e-6)) << "1-rank continuation: " << k;

    // read_ckpt reshard: a checkpoint root a 1-rank job resumes from.
    const fs::path out = tmp.path / "resharded";
    const std::string written = rd::CheckpointManager::write_resharded(step_dir.string(), 1, out.string());
    EXPECT_TRUE(fs::exists(out / "step_3" / "zero_rank_0_of_1.safetensors")) << written;
    rd::CheckpointManager at_one(out.string(), self);
    Trained c = fresh(self, 7);
    auto lc = at_one.load_latest(c.opt->layout());
    ASSERT_TRUE(lc.has_value());
    EXPECT_FALSE(lc->resharded);
    EXPECT_EQ(lc->trainer_state.at("world_size").get<int>(), 1);
    expect_equal(lc->shard, l.shard, "write_resharded(1) then load at 1 rank");
    EXPECT_THROW(rd::CheckpointManager::write_resharded(step_dir.string(), 1, out.string()), rd::Error)
        << "overwrote an existing step";
  }
}

TEST(Checkpoint, CorruptedShardIsNamed) {
  TempDir tmp("corrupt");
  Trained a = fresh(world());
  train(world(), a, batch(), 0, 1);
  rd::CheckpointManager mgr(tmp.path.string(), world());
  mgr.save(save_of(a, 1));
  const fs::path shard = tmp.path / "step_1" / "zero_rank_1_of_2.safetensors";
  if (world().rank() == 0) {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(shard) - 5));
    char c;
    f.read(&c, 1);
    c ^= 0x10;
    f.seekp(static_cast<std::streamoff>(fs::file_size(shard) - 5));
    f.write(&c, 1);
  }
  world().barrier();
  try {
    mgr.load_latest(a.opt->layout());
    ADD_FAILURE() << "a flipped byte was not detected";
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("zero_rank_1_of_2.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CRC-32"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, KeepLastPrunesOldest) {
  TempDir tmp("keep");
  Trained a = fresh(world());
  rd::CheckpointManager mgr(tmp.path.string(), world(), 2);
  const Data d = batch();
  for (int s = 1; s <= 4; ++s) {
    train(world(), a, d, s - 1, s);
    mgr.save(save_of(a, s));
  }
  world().barrier();
  EXPECT_FALSE(fs::exists(tmp.path / "step_1"));
  EXPECT_FALSE(fs::exists(tmp.path / "step_2"));
  EXPECT_TRUE(fs::exists(tmp.path / "step_3"));
  EXPECT_TRUE(fs::exists(tmp.path / "step_4"));
  EXPECT_EQ(latest_of(tmp.path), "step_4");
  auto l = mgr.load_latest(a.opt->layout());
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->step, 4);
}

TEST(Checkpoint, InterruptedSaveKeepsLatest) {
  TempDir tmp("interrupt");
  Trained a = fresh(world());
  train(world(), a, batch(), 0, 1);
  rd::CheckpointManager mgr(tmp.path.string(), world());
  mgr.save(save_of(a, 1));
  // What a save killed before its manifest leaves behind.
  if (world().rank() == 0) {
    fs::create_directories(tmp.path / ".tmp_step_2");
    std::ofstream(tmp.path / ".tmp_step_2" / "zero_rank_0_of_2.safetensors") << "partial";
  }
  world().barrier();
  EXPECT_EQ(latest_of(tmp.path), "step_1");
  auto l = mgr.load_latest(a.opt->layout());
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->step, 1);
  // A step directory without its manifest is refused by name.
  if (world().rank() == 0) {
    fs::copy(tmp.path / "step_1", tmp.path / "step_9");
    fs::remove(tmp.path / "step_9" / "manifest.json");
    try {
      rd::CheckpointManager::load((tmp.path / "step_9").string(), a.opt->layout(), 0);
      ADD_FAILURE() << "incomplete checkpoint loaded";
    } catch (const rd::Error& e) {
      EXPECT_NE(std::string(e.what()).find("manifest.json"), std::string::npos) << e.what();
    }
    fs::remove_all(tmp.path / "step_9");
  }
  world().barrier();
  // The next save clears the leftovers.
  train(world(), a, batch(), 1, 2);
  mgr.save(save_of(a, 2));
  EXPECT_FALSE(fs::exists(tmp.path / ".tmp_step_2"));
  EXPECT_EQ(latest_of(tmp.path), "step_2");
}

TEST(Checkpoint, FullDiskFailsEverywhereAndKeepsPrevious) {
  TempDir tmp("full");
  const fs::path mnt = tmp.path / "small";
  int mounted = 0;
  if (world().rank() == 0) {
    fs::create_directories(mnt);
    mounted = ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") == 0;
  }
  torch::Tensor m = torch::full({1}, static_cast<float>(mounted));
  world().broadcast(m, 0);
  if (m.item<float>() == 0) GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";

  Trained a = fresh(world());
  train(world(), a, batch(), 0, 1);
  rd::CheckpointManager mgr(mnt.string(), world());
  mgr.save(save_of(a, 1));
  if (world().rank() == 0) {  // fill the disk up to a few hundred bytes
    std::ofstream f(mnt / "filler", std::ios::binary);
    std::string block(512, 'x');
    while (f.write(block.data(), block.size()) && f.flush()) {
    }
  }
  world().barrier();
  train(world(), a, batch(), 1, 2);
  try {
    mgr.save(save_of(a, 2));
    ADD_FAILURE() << "a save on a full disk succeeded";
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not saved"), std::string::npos) << e.what();
  }
  world().barrier();
  EXPECT_EQ(latest_of(mnt), "step_1");
  EXPECT_FALSE(fs::exists(mnt / "step_2"));
  EXPECT_FALSE(fs::exists(mnt / ".tmp_step_2"));
  auto l = mgr.load_latest(a.opt->layout());
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->step, 1);
  world().barrier();
  if (world().rank() == 0) ::umount(mnt.c_str());
}

}  // namespace

namespace {

int cli(std::vector<std::string> args, std::string* out = nullptr) {
  args.insert(args.begin(), "read_ckpt");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  int rc = rd::run_ckpt_cli(static_cast<int>(argv.size()), argv.data(),
                            {rd::kCkptInspect, rd::kCkptConsolidate, rd::kCkptReshard});
  std::string o = ::testing::internal::GetCapturedStdout();
  if (out) *out = o;
  return rc;
}

TEST(Checkpoint, ReadCkptInspectConsolidateReshard) {
  TempDir tmp("cli");
  const Data d = batch();
  Trained a = fresh(world());
  train(world(), a, d, 0, kN);
  rd::CheckpointManager mgr(tmp.path.string(), world());
  mgr.save(save_of(a, kN));
  const rd::ConsolidatedState full = a.opt->export_consolidated();
  if (world().rank() != 0) return;

  std::string out;
  ASSERT_EQ(cli({"inspect", tmp.path.string()}, &out), 0) << out;
  EXPECT_NE(out.find("step: 3"), std::string::npos) << out;
  EXPECT_NE(out.find("world size: 2"), std::string::npos) << out;
  EXPECT_NE(out.find("checksums: ok"), std::string::npos) << out;
  EXPECT_NE(out.find("zero_rank_1_of_2.safetensors"), std::string::npos) << out;

  const std::string f = (tmp.path / "full.safetensors").string();
  ASSERT_EQ(cli({"consolidate", tmp.path.string(), "--out", f, "--optimizer"}, &out), 0) << out;
  rd::StateDict sd = rd::load_safetensors(f);
  const rd::StateDict weights = params_of(a.model);
  EXPECT_EQ(sd.size(), 4 * weights.size());
  for (const auto& [k, v] : weights) {
    EXPECT_TRUE(torch::equal(sd.at(k), v)) << k;
    EXPECT_TRUE(torch::equal(sd.at("optimizer.master." + k), full.master.at(k))) << k;
    EXPECT_TRUE(torch::equal(sd.at("optimizer.exp_avg." + k), full.exp_avg.at(k))) << k;
    EXPECT_TRUE(torch::equal(sd.at("optimizer.exp_avg_sq." + k), full.exp_avg_sq.at(k))) << k;
  }
  // Without --optimizer (flags do not leak from the previous run): weights only.
  const std::string w = (tmp.path / "weights.safetensors").string();
  ASSERT_EQ(cli({"consolidate", (tmp.path / "step_3").string(), "--out=" + w}, &out), 0) << out;
  EXPECT_EQ(rd::load_safetensors(w).size(), weights.size());

  const fs::path two = tmp.path / "at4";
  ASSERT_EQ(cli({"reshard", tmp.path.string(), "--world-size", "4", "--out", two.string()}, &out), 0) << out;
  const rd::PartitionLayout four = a.opt->layout().resharded(4);
  for (int r = 0; r < 4; ++r) {
    rd::CheckpointLoad l = rd::CheckpointManager::load((two / "step_3").string(), four, r);
    EXPECT_FALSE(l.resharded);
    expect_equal(l.shard, rd::shard_consolidated(full, four, r), "reshard --world-size 4, rank " + std::to_string(r));
  }
  // The other command's flag is a usage error (2); a missing --out an error (1).
  EXPECT_EQ(cli({"consolidate", tmp.path.string(), "--out", f, "--world_size", "2"}), 2);
  EXPECT_EQ(cli({"reshard", tmp.path.string(), "--world_size", "2"}), 1);
  EXPECT_EQ(cli({"reshard", tmp.path.string(), "--out", (tmp.path / "x").string(), "--optimizer"}), 2);
}

}  // namespace

namespace {

// The read_ckpt round trip: consolidate (the file equals the in-memory
// consolidated state), reshard 2 -> 4 -> 2 and resume on 2 ranks == the
// original continuation bit for bit; reshard (2 ->) 4 -> 1 and resume on one rank ==
// the 2-rank continuation up to the reduction order.
TEST(Checkpoint, ConsolidateReshardResumeEqualsTheContinuation) {
  TempDir tmp("roundtrip");
  const Data d = batch();
  Trained whole = fresh(world());
  train(world(), whole, d, 0, 2 * kN);
  Trained a = fresh(world());
  train(world(), a, d, 0, kN);
  rd::CheckpointManager(tmp.path.string(), world()).save(save_of(a, kN));
  const rd::ConsolidatedState full = a.opt->export_consolidated();
  const fs::path at4 = tmp.path / "at4", back = tmp.path / "back2", at1 = tmp.path / "at1";
  if (world().rank() == 0) {
    const std::string f = (tmp.path / "full.safetensors").string();
    ASSERT_EQ(cli({"consolidate", tmp.path.string(), "--out", f, "--optimizer"}), 0);
    const rd::StateDict sd = rd::load_safetensors(f);
    for (const auto& [k, v] : full.master) {
      EXPECT_TRUE(torch::equal(sd.at("optimizer.master." + k), v)) << k;
      EXPECT_TRUE(torch::equal(sd.at("optimizer.exp_avg." + k), full.exp_avg.at(k))) << k;
      EXPECT_TRUE(torch::equal(sd.at("optimizer.exp_avg_sq." + k), full.exp_avg_sq.at(k))) << k;
    }
    ASSERT_EQ(cli({"reshard", tmp.path.string(), "--world-size", "4", "--out", at4.string()}), 0);
    ASSERT_EQ(cli({"reshard", at4.string(), "--world-size", "2", "--out", back.string()}), 0);
    ASSERT_EQ(cli({"reshard", at4.string(), "--world-size", "1", "--out", at1.string()}), 0);
  }
  world().barrier();

  Trained b = fresh(world(), 999);
  rd::CheckpointManager from_back(back.string(), world());
  auto l = from_back.load_latest(b.opt->layout());
  ASSERT_TRUE(l.has_value());
  EXPECT_FALSE(l->resharded) << "2 -> 4 -> 2 should give this job's own layout";
  EXPECT_EQ(l->step, kN);
  b.opt->load_local_state(l->shard);
  train(world(), b, d, kN, 2 * kN);
  expect_equal(params_of(b.model), params_of(whole.model), "weights after 2 -> 4 -> 2 and resume");
  expect_equal(b.opt->local_state(), whole.opt->local_state(), "optimizer state after 2 -> 4 -> 2 and resume");

  if (world().rank() == 0) {
    rd::MpiCommunicator self(MPI_COMM_SELF, 10.0);
    Trained c = fresh(self, 7);
    rd::CheckpointManager from_one(at1.string(), self);
    auto l1 = from_one.load_latest(c.opt->layout());
    ASSERT_TRUE(l1.has_value());
    EXPECT_FALSE(l1->resharded);
    c.opt->load_local_state(l1->shard);
    train(self, c, d, kN, 2 * kN);
    for (const auto& [k, v] : params_of(whole.model))
      EXPECT_TRUE(torch::allclose(params_of(c.model).at(k), v, 1e-5, 1e-6)) << "2 -> 4 -> 1, resumed on one rank: " << k;
  }
}

}  // namespace
