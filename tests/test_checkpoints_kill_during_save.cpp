// A process killed with SIGKILL in the middle of a checkpoint save leaves the
// previous checkpoint loadable (checksums verified) and `latest` pointing at
// it; the next save succeeds and clears the leftovers.
//
// The parent saves step_1 (keep_last 1, so step_1 is pruned by the next
// successful save), then re-executes this test binary as a child
// (KillDuringSave.Child, told what to do by environment variables) that saves
// a ~200 MB step_2 and is killed:
//  - at each phase boundary of save(), by the child itself (raise(SIGKILL)
//    from CheckpointManager's phase hook): deterministic;
//  - in the middle of writing the ZeRO shard and trainable.safetensors, by the
//    parent polling the growing .tmp file: retried until the kill lands
//    before the file is complete (the test asserts that it did).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "checkpoints/training_checkpoint.h"
#include "common/error.h"
#include "tests/checkpoints_test_util.h"

extern char** environ;

namespace {
namespace fs = std::filesystem;
using rd::testing::TempFolder;

constexpr int64_t kElements = 12 << 20;  // per checkpoint: 48 MB of weights, 144 MB of optimizer state

rd::CheckpointSave big_save(int64_t step) {
  torch::manual_seed(step);
  rd::StateDict trainable;
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  rd::ConsolidatedState st;
  st.step = step;
  for (int i = 0; i < 12; ++i) {
    const std::string k = "layer" + std::to_string(i) + ".weight";
    trainable[k] = torch::randn({kElements / 12});
    shapes.emplace_back(k, std::vector<int64_t>{kElements / 12});
    st.master[k] = trainable[k];
    st.exp_avg[k] = trainable[k] * 0.1;
    st.exp_avg_sq[k] = trainable[k].square();
  }
  rd::CheckpointSave c;
  c.step = step;
  c.trainer_state = {{"epoch", 0}, {"cursor", step * 10}};
  c.trainable = trainable;
  c.shard = rd::shard_consolidated(st, rd::PartitionLayout::make(shapes, 1), 0);
  return c;
}

std::string latest_of(const fs::path& root) {
  std::ifstream f(root / "latest");
  std::string s;
  f >> s;
  return s;
}

// The child: saves step 2 into $READ_KILL_ROOT; with $READ_KILL_PHASE set it
// SIGKILLs itself when save() reaches that phase.
TEST(KillDuringSave, Child) {
  const char* root = std::getenv("READ_KILL_ROOT");
  if (!root) GTEST_SKIP() << "run by KillDuringSave.* as a child process";
  const std::string at = std::getenv("READ_KILL_PHASE") ? std::getenv("READ_KILL_PHASE") : "";
  rd::CheckpointManager::set_phase_hook([at](const std::string& phase) {
    if (phase == at) ::raise(SIGKILL);
  });
  rd::testing::SoloCommunicator comm;
  rd::CheckpointManager(root, comm, 1).save(big_save(2));
  ADD_FAILURE() << "the child was not killed";
}

struct SaveRun {
  TempFolder tmp{"kill_save"};
  fs::path root = tmp.path / "checkpoints";
  rd::testing::SoloCommunicator comm;
  rd::CheckpointSave first = big_save(1);
  rd::PartitionLayout layout = first.shard.layout;

  SaveRun() { rd::CheckpointManager(root.string(), comm, 1).save(first); }

  pid_t spawn_child(const std::string& phase) {
    std::vector<std::string> env_s = {"READ_KILL_ROOT=" + root.string(), "READ_KILL_PHASE=" + phase};
    for (char** e = environ; *e; ++e)
      if (std::string(*e).rfind("READ_KILL_", 0) != 0) env_s.push_back(*e);
    std::vector<std::string> args_s = {"/proc/self/exe", "--gtest_filter=KillDuringSave.Child"};
    std::vector<char*> env, args;
    for (auto& s : env_s) env.push_back(s.data());
    for (auto& s : args_s) args.push_back(s.data());
    env.push_back(nullptr);
    args.push_back(nullptr);
    pid_t pid = 0;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);  // the child's gtest chatter
    EXPECT_EQ(posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, args.data(), env.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  }

  void expect_killed(pid_t pid) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  }

  // `latest` names step `step`, which loads (checksums verified) with the
  // content of `want`.
  void expect_loadable(int64_t step, const rd::CheckpointSave& want) {
    EXPECT_EQ(latest_of(root), "step_" + std::to_string(step));
    rd::CheckpointManager mgr(root.string(), comm, 1);
    std::optional<rd::CheckpointLoad> l;
    ASSERT_NO_THROW(l = mgr.load_latest(layout));
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ(l->step, step);
    EXPECT_EQ(l->trainer_state.at("cursor").get<int64_t>(), step * 10);
    for (const auto& [k, v] : want.trainable) EXPECT_TRUE(torch::equal(l->trainable.at(k), v)) << k;
    EXPECT_TRUE(torch::equal(l->shard.exp_avg_sq, want.shard.exp_avg_sq));
  }

  // The next save (a restarted job) succeeds, cleans up, prunes step_1.
  void expect_next_save_works() {
    rd::CheckpointSave again = big_save(2);
    rd::CheckpointManager(root.string(), comm, 1).save(again);
    expect_loadable(2, again);
    EXPECT_FALSE(fs::exists(root / ".tmp_step_2"));
    EXPECT_FALSE(fs::exists(root / "step_1"));
  }
};

TEST(KillDuringSave, AtEveryPhaseBoundary) {
  for (const char* phase : {"shard_written", "trainable_written", "files_written", "sealed", "latest_written"}) {
    SCOPED_TRACE(phase);
    SaveRun r;
    r.expect_killed(r.spawn_child(phase));
    if (std::string(phase) == "latest_written") {
      r.expect_loadable(2, big_save(2));  // complete: `latest` already moved on
    } else {
      r.expect_loadable(1, r.first);
      if (std::string(phase) != "sealed") EXPECT_FALSE(fs::exists(r.root / "step_2"));
    }
    r.expect_next_save_works();
  }
}

TEST(KillDuringSave, InTheMiddleOfWritingAFile) {
  // The shard (3 x 48 MB) is written first, then trainable.safetensors (48 MB).
  const std::pair<const char*, uintmax_t> files[] = {{"zero_rank_0_of_1.safetensors.tmp", 3 * kElements * 4},
                                                     {"trainable.safetensors.tmp", kElements * 4}};
  for (const auto& [file, data_bytes] : files) {
    SCOPED_TRACE(file);
    bool mid_write = false;
    for (int attempt = 0; attempt < 5 && !mid_write; ++attempt) {
      SaveRun r;
      const fs::path growing = r.root / ".tmp_step_2" / file;
      const pid_t pid = r.spawn_child("");
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      std::error_code ec;
      while (std::chrono::steady_clock::now() < deadline) {
        const auto size = fs::file_size(growing, ec);
        if (!ec && size > (1u << 20)) break;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      ::kill(pid, SIGKILL);
      r.expect_killed(pid);
      // Killed while the file was still being written: it is there, short.
      const auto size = fs::file_size(growing, ec);
      mid_write = !ec && size < data_bytes;
      r.expect_loadable(1, r.first);
      EXPECT_FALSE(fs::exists(r.root / "step_2"));
      r.expect_next_save_works();
    }
    EXPECT_TRUE(mid_write) << "the kill never landed while " << file << " was being written";
  }
}

}  // namespace
