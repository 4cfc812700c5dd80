// The training configs: the shipped 7B/13B configs parse (without their
// weights on this machine), and bad configs give messages naming the key.
#include <gtest/gtest.h>

#include "common/error.h"
#include "tests/harness/fixtures.h"
#include "trainer/train_config.h"

TEST(TrainConfig, ShippedConfigsParse) {
  for (const char* name : {"read7b.yaml", "read13b.yaml"}) {
    auto c = rd::TrainConfig::load(rd::testing::source_dir() + "/configs/" + name, {}, /*check_paths=*/false);
    EXPECT_EQ(c.data.mixture.size(), 6u) << name;
    EXPECT_EQ(c.train.micro_batch_size, 2);
    EXPECT_EQ(c.train.grad_accumulation, 10);
    EXPECT_EQ(c.optim.zero_stage, 2);
    EXPECT_EQ(c.model.precision, "bf16");
    EXPECT_EQ(c.total_steps(), 10000);
    EXPECT_NE(c.resolved.find("model.lora.r: 8"), std::string::npos);
    // The YAML as read, overrides applied (what checkpoints keep).
    EXPECT_NE(rd::TrainConfig::load(c.path, {"train.epochs=3"}, false).yaml.find("epochs: 3"), std::string::npos);
  }
}

TEST(TrainConfig, ErrorsNameTheKey) {
  const std::string cfg = rd::testing::source_dir() + "/configs/read7b.yaml";
  auto error = [&](std::vector<std::string> overrides, bool check = false) {
    try {
      rd::TrainConfig::load(cfg, overrides, check);
    } catch (const rd::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error({"optim.lerning_rate=1"}), cfg + ": unknown key 'optim.lerning_rate'");
  EXPECT_EQ(error({"optim.l=1"}), cfg + ": unknown key 'optim.l'; did you mean 'optim.lr'?");
  EXPECT_EQ(error({"train.epochs=many"}), cfg + ": key 'train.epochs' expects an integer, got 'many'");
  // The data section is parsed by data/data_config.h (shared with read_pack preview).
  EXPECT_EQ(error({"data.mixtur=1"}), cfg + ": unknown key 'data.mixtur'; did you mean 'data.mixture'?");
  EXPECT_EQ(error({"data.mixture=[{family: sem_seg, ratio: 1, datasets: [ade20k], weight: 2}]"}),
            cfg + ": unknown key 'data.mixture[0].weight'");
  EXPECT_EQ(error({"optim.zero_stage=3"}), cfg + ": optim.zero_stage must be 0, 1 or 2");
  EXPECT_EQ(error({"model.sasp.variant=magic"}),
            cfg + ": key 'model.sasp.variant' is 'magic', expected one of: code, paper");
  EXPECT_EQ(error({"train.max_steps=50"}),
            cfg + ": optim.warmup_steps 100 exceeds the run's 50 steps (train.epochs x train.steps_per_epoch, or "
                  "train.max_steps)");
  EXPECT_EQ(error({"train.max_steps=50", "optim.schedule=constant"}), "");
  EXPECT_EQ(error({}, true), cfg + ": key 'model.llava_dir' names a path that does not exist: weights/llava-v1.5-7b");
}
