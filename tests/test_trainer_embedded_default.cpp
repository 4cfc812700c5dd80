// The README's main job, short (issue 5 "a short version of the embedded
// default runs in CI"): read_synth -> read_pack -> mpirun -np 2 read_trainer
// configs/tiny.yaml for a few hundred steps from random initialisation; the
// training loss must fall and the validation gIoU must rise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/harness/fixtures.h"

namespace fs = std::filesystem;

namespace {

int run(const std::string& command) {
  std::cout << "+ " << command << std::endl;
  return std::system(command.c_str());
}

struct RunLog {
  std::vector<double> loss;                 // train/loss by step
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
  const fs::path dir = fs::temp_directory_path() / ("read_embedded_default_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::string bin = READ_BIN_DIR, d = dir.string();
  const int64_t steps = 200;
  ASSERT_EQ(run(bin + "/read_synth --out " + d + "/raw --train_images 150 --val_images 40 --tokenizer_out " + d +
                "/tokenizer"),
            0);
  ASSERT_EQ(run(bin + "/read_pack all --root " + d + "/raw --out " + d + "/packed"), 0);
  ASSERT_EQ(run("cd '" + rd::testing::source_dir() + "' && " + READ_MPIEXEC + " -np 2 " + bin +
                "/read_trainer configs/tiny.yaml --set model.tokenizer_dir=" + d + "/tokenizer --set data.packed_dir=" +
                d + "/packed --set train.output_dir=" + d + "/train --set data.val_samples=40 --set train.max_steps=" +
                std::to_string(steps) + " --set train.val_every=0 --set train.ckpt_every=0"),
            0);

  RunLog log = read_metrics(dir / "train" / "metrics.jsonl");
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
  // The run leaves a resumable checkpoint at the end.
  EXPECT_TRUE(fs::exists(dir / "train" / "checkpoints" / "latest"));
  if (!HasFailure()) fs::remove_all(dir);
}
