// read_ckpt export-adapter on a one-process training checkpoint: LoRA weights
// land in adapter_model.safetensors under PEFT names and read back through
// model/peft_adapter.h (config from the checkpoint's config.yaml, r from the
// weights); the other trainable weights go to non_lora_trainables.safetensors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "checkpoints/ckpt_export_adapter.h"
#include "checkpoints/formats/safetensors.h"
#include "checkpoints/training_checkpoint.h"
#include "common/error.h"
#include "model/peft_adapter.h"
#include "tests/harness/solo_communicator.h"

namespace fs = std::filesystem;

namespace {

using rd::testing::SoloCommunicator;

struct Fixture {
  fs::path dir = fs::temp_directory_path() / ("read_export_adapter_" + std::to_string(::getpid()));
  rd::StateDict trainable;
  Fixture() {
    fs::remove_all(dir);
    torch::manual_seed(3);
    for (int l = 0; l < 2; ++l)
      for (const char* m : {"q_proj", "v_proj"}) {
        const std::string base = "model.layers." + std::to_string(l) + ".self_attn." + m;
        trainable[base + ".lora_A.weight"] = torch::randn({4, 16});
        trainable[base + ".lora_B.weight"] = torch::randn({16, 4});
      }
    trainable["lm_head.weight"] = torch::randn({10, 16});
    trainable["model.text_hidden_fcs.0.0.weight"] = torch::randn({8, 16});
  }
  ~Fixture() { fs::remove_all(dir); }

  void save(bool with_config) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
    rd::ConsolidatedState st;
    st.step = 5;
    for (const auto& [k, v] : trainable) {
      shapes.emplace_back(k, v.sizes().vec());
      st.master[k] = v;
      st.exp_avg[k] = torch::zeros_like(v);
      st.exp_avg_sq[k] = torch::zeros_like(v);
    }
    const rd::PartitionLayout layout = rd::PartitionLayout::make(shapes, 1);
    SoloCommunicator comm;
    rd::CheckpointManager mgr(dir.string(), comm);
    rd::CheckpointSave c;
    c.step = 5;
    c.trainable = trainable;
    c.shard = rd::shard_consolidated(st, layout, 0);
    if (with_config)
      c.config_yaml = "model:\n  lora:\n    r: 4\n    alpha: 8\n    dropout: 0.1\n"
                      "    target_modules: [q_proj, v_proj]\n";
    mgr.save(c);
  }
};

TEST(ExportAdapter, PeftNamesAndConfigRoundTrip) {
  Fixture f;
  f.save(true);
  const fs::path out = f.dir / "adapter";
  rd::ExportedAdapter e = rd::export_adapter(f.dir.string(), out.string(), "llava-v1.5-7b");
  EXPECT_EQ(e.lora_tensors, 8u);
  EXPECT_EQ(e.other_tensors, 2u);

  rd::StateDict raw = rd::load_safetensors((out / "adapter_model.safetensors").string());
  EXPECT_TRUE(raw.count("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"));
  const rd::LoraConfig cfg = rd::read_peft_adapter_config(out.string());
  EXPECT_EQ(cfg.r, 4);
  EXPECT_DOUBLE_EQ(cfg.alpha, 8);
  EXPECT_DOUBLE_EQ(cfg.dropout, 0.1);
  EXPECT_EQ(cfg.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  rd::StateDict lora = rd::read_peft_adapter_weights(out.string());
  EXPECT_EQ(lora.size(), 8u);
  for (const auto& [k, v] : lora) EXPECT_TRUE(torch::equal(v, f.trainable.at(k))) << k;
  rd::StateDict other = rd::load_safetensors((out / "non_lora_trainables.safetensors").string());
  ASSERT_EQ(other.size(), 2u);
  EXPECT_TRUE(torch::equal(other.at("lm_head.weight"), f.trainable.at("lm_head.weight")));
}

TEST(ExportAdapter, WithoutConfigInfersRankAndTargets) {
  Fixture f;
  f.save(false);
  rd::ExportedAdapter e = rd::export_adapter(f.dir.string(), (f.dir / "a").string());
  EXPECT_EQ(e.config.r, 4);
  EXPECT_DOUBLE_EQ(e.config.alpha, rd::LoraConfig{}.alpha);
  EXPECT_EQ(e.config.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
}

TEST(ExportAdapter, NoLoraWeightsIsAnError) {
  Fixture f;
  for (auto it = f.trainable.begin(); it != f.trainable.end();)
    it = rd::is_lora_parameter(it->first) ? f.trainable.erase(it) : std::next(it);
  f.save(false);
  EXPECT_THROW(rd::export_adapter(f.dir.string(), (f.dir / "a").string()), rd::Error);
}

}  // namespace
