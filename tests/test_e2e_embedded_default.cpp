// The README's main job, short (issue 5 "a short version of the embedded
// default runs in CI"): read_synth -> read_pack -> mpirun -np 2 read_trainer
// configs/tiny.yaml for 200 steps from random initialisation; the training
// loss must fall and the validation gIoU must rise.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/harness/programs.h"

namespace fs = std::filesystem;
using namespace rd::testing;

namespace {

struct RunLog {
  std::vector<double> loss;                       // train/loss by step
  std::vector<std::pair<int64_t, double>> giou;  // (step, val/giou)
};

RunLog read_metrics(const fs::path& jsonl) {
  RunLog log;
  std::ifstream in(jsonl);
  EXPECT_TRUE(in.good()) << "no " << jsonl;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("train/loss")) log.loss.push_back(j["train/loss"].get<double>());
    if (j.contains("val/giou")) log.giou.emplace_back(j["step"].get<int64_t>(), j["val/giou"].get<double>());
  }
  return log;
}

double mean(const std::vector<double>& v, size_t from, size_t n) {
  double s = 0;
  for (size_t i = from; i < from + n; ++i) s += v.at(i);
  return s / static_cast<double>(n);
}

}  // namespace

TEST(EmbeddedDefault, ShortRunLearns) {
  const std::string dir = fresh_dir("embedded_default");
  const int64_t steps = 200;
  ASSERT_TRUE(make_packed_synth(dir, 150, 40));
  ASSERT_EQ(run_tiny_trainer(2, dir, dir + "/train",
                             " --set data.val_samples=40 --set train.max_steps=" + std::to_string(steps) +
                                 " --set train.val_every=0 --set train.ckpt_every=0"),
            0);

  RunLog log = read_metrics(fs::path(dir) / "train" / "metrics.jsonl");
  ASSERT_EQ(log.loss.size(), size_t(steps));
  ASSERT_GE(log.giou.size(), size_t(2));
  const double loss_first = mean(log.loss, 0, 20), loss_last = mean(log.loss, steps - 20, 20);
  const double giou_first = log.giou.front().second, giou_last = log.giou.back().second;
  std::cout << "loss " << loss_first << " -> " << loss_last << "; validation gIoU " << giou_first << " -> "
            << giou_last << std::endl;
  EXPECT_EQ(log.giou.front().first, 0);
  EXPECT_EQ(log.giou.back().first, steps);
  EXPECT_LT(loss_last, 0.5 * loss_first);
  EXPECT_GT(giou_last, giou_first + 0.1);
  // The run ends with a resumable checkpoint.
  EXPECT_TRUE(fs::exists(fs::path(dir) / "train" / "checkpoints" / "latest"));
  if (!HasFailure()) fs::remove_all(dir);
}
