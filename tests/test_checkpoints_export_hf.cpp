// read_ckpt export-hf on a tiny READ trained from random init: the folder
// has the reference's layout (sharded safetensors + index, no vision tower
// or LoRA keys, config.json, tokenizer with READ's added tokens,
// generation_config.json, the random CLIP tower beside), the merged-vs-
// unmerged probe check is printed, and the folder loads back, through the
// trainer's model factory, to a model with the same weights and outputs as
// the unmerged trained one. Errors name the file or key at fault.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoints/formats/json_file.h"
#include "checkpoints/ckpt_export_hf.h"
#include "checkpoints/formats/load_state_dict.h"
#include "checkpoints/formats/safetensors.h"
#include "model/lora.h"
#include "model/read_model_factory.h"
#include "model/read_probe.h"
#include "model/weight_loading.h"
#include "tests/checkpoints_test_util.h"
#include "tests/harness/fixtures.h"

namespace {
namespace fs = std::filesystem;
using rd::testing::ckpt_cli;
using rd::testing::TempFolder;

std::string tokenizer_dir() {
  auto cases = rd::testing::cases_of_kind("tokenizer");
  EXPECT_FALSE(cases.empty());
  return (fs::path(cases.front().dir()) / "tokenizer").string();
}

std::string model_yaml(const std::string& tok) {
  return "  init: random\n  tokenizer_dir: " + tok +
         "\n"
         "  llm: {hidden_size: 64, intermediate_size: 172, num_layers: 2, num_heads: 4}\n"
         "  vision: {image_size: 112, patch_size: 14, hidden_size: 48, num_layers: 2, num_heads: 4, "
         "intermediate_size: 96}\n"
         "  sam: {variant: custom, image_size: 128, embed_dim: 32, depth: 2, num_heads: 2, window_size: 4,\n"
         "        global_attn_indexes: [1], prompt_embed_dim: 32, decoder_mlp_dim: 64, decoder_num_heads: 2}\n"
         "  lora: {r: 4, alpha: 8, dropout: 0.0}\n"
         "  sasp: {num_points: 8, down_sample: 2}\n"
         "  out_dim: 32\n  model_max_length: 256\n  precision: fp32\n  gradient_checkpointing: false\n";
}

struct Trained {
  TempFolder tmp{"export_hf"};
  std::string yaml = (tmp.path / "config.yaml").string();
  std::string tok = tokenizer_dir();
  rd::ModelSection model_cfg;
  int64_t seed = 0;
  rd::ReadForCausalLM model{nullptr};
  std::string ckpt = (tmp.path / "ckpt").string();

  Trained() {
    std::ofstream(yaml) << rd::testing::tiny_train_yaml(model_yaml(tok));
    model_cfg = rd::ModelSection::load(yaml, {}, false);
    seed = rd::TrainSection::load(yaml).seed;
    rd::Tokenizer t = rd::Tokenizer::from_folder(tok);
    torch::manual_seed(seed);  // as read_trainer
    model = rd::make_read_model(model_cfg, t);
    torch::NoGradGuard g;
    torch::manual_seed(5);  // "training": every trainable weight moves (LoRA B too)
    for (auto& [k, p] : model->trainable_parameters()) p.add_(torch::randn_like(p) * 0.05);
    rd::testing::save_training_checkpoint(ckpt, 7, rd::testing::named_trainables(*model), yaml, tok);
  }
};

nlohmann::json json_of(const fs::path& p) { return rd::read_json_file(p.string()); }

TEST(ExportHf, FolderLoadsBackToTheSameModel) {
  Trained t;
  const rd::ProbeOutputs want = rd::run_probe(*t.model, rd::probe_batch(t.model->read_config(), 3));
  const fs::path hf = t.tmp.path / "hf";
  std::string out, err;
  ASSERT_EQ(ckpt_cli({rd::kCkptExportHf},
                     {"export-hf", t.ckpt, "--hf-out", hf.string(), "--dtype", "fp32", "--max-shard-mb", "1"}, &out,
                     &err),
            0)
      << out << err;
  std::cout << out;  // the probe comparison and the figures
  EXPECT_NE(out.find("merged vs unmerged on a probe input"), std::string::npos) << out;
  EXPECT_NE(out.find("same outputs"), std::string::npos) << out;

  // Layout.
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors.index.json", "tokenizer.model",
                        "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                        "vision_tower/config.json", "vision_tower/model.safetensors"})
    EXPECT_TRUE(fs::exists(hf / f)) << f;
  EXPECT_FALSE(fs::exists(hf.string() + ".partial"));
  const nlohmann::json index = json_of(hf / "model.safetensors.index.json");
  std::set<std::string> shards;
  bool sam = false, fcs = false;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    const std::string& k = it.key();
    shards.insert(it.value().get<std::string>());
    EXPECT_EQ(k.find("vision_tower"), std::string::npos) << k;
    EXPECT_FALSE(rd::is_lora_parameter(k)) << k;
    sam |= k.rfind("model.visual_model.", 0) == 0;
    fcs |= k.rfind("model.text_hidden_fcs.", 0) == 0;
  }
  EXPECT_TRUE(sam && fcs);
  EXPECT_GE(shards.size(), 2u) << "--max-shard-mb 1 should split a tiny READ";
  EXPECT_TRUE(index["weight_map"].contains("lm_head.weight"));
  const nlohmann::json config = json_of(hf / "config.json");
  EXPECT_EQ(config["vocab_size"], t.model->config().llm.vocab_size);
  EXPECT_EQ(config["out_dim"], 32);
  EXPECT_EQ(config["mm_vision_tower"], "vision_tower");
  EXPECT_EQ(config["architectures"][0], "READForCausalLM");
  const rd::Tokenizer tok2 = rd::Tokenizer::from_folder(hf.string());
  const rd::Tokenizer tok1 = rd::Tokenizer::from_folder(t.tok);
  EXPECT_EQ(tok2.size(), tok1.size());
  EXPECT_EQ(tok2.seg_id(), tok1.seg_id());

  // Loaded the way read_trainer loads model.init pretrained from a READ folder.
  rd::ModelSection ms = t.model_cfg;
  ms.init = "pretrained";
  ms.llava_dir = ms.tokenizer_dir = hf.string();
  ms.vision_tower_dir = (hf / "vision_tower").string();
  ms.sam_checkpoint.clear();
  rd::ReadForCausalLM loaded = rd::make_read_model(ms, tok2);
  const rd::ProbeComparison cmp = rd::compare_probe(rd::run_probe(*loaded, rd::probe_batch(loaded->read_config(), 3)), want);
  EXPECT_TRUE(cmp.within(1e-4)) << cmp.describe();

  // Every weight is the merged trained weight, exactly (fp32).
  rd::merge_lora(*t.model);
  const rd::StateDict a = rd::module_state(*t.model), b = rd::module_state(*loaded);
  size_t compared = 0;
  for (const auto& [k, v] : a) {
    if (rd::is_lora_parameter(k)) continue;
    ASSERT_TRUE(b.count(k)) << k;
    EXPECT_TRUE(torch::equal(v, b.at(k))) << k;
    ++compared;
  }
  EXPECT_GT(compared, 100u);
}

TEST(ExportHf, Bf16WeightsAndErrorsNameTheCulprit) {
  Trained t;
  const fs::path hf = t.tmp.path / "hf16";
  std::string out, err;
  ASSERT_EQ(ckpt_cli({rd::kCkptExportHf}, {"export-hf", t.ckpt, "--hf_out", hf.string(), "--dtype", "bf16"}, &out, &err),
            0)
      << err;
  rd::StateDict sd = rd::load_state_dict(hf.string());
  rd::merge_lora(*t.model);
  const rd::StateDict merged = rd::module_state(*t.model);
  for (const char* k : {"lm_head.weight", "model.layers.0.self_attn.q_proj.weight", "model.text_hidden_fcs.0.0.weight"}) {
    EXPECT_EQ(sd.at(k).scalar_type(), torch::kBFloat16) << k;
    EXPECT_TRUE(torch::equal(sd.at(k), merged.at(k).to(torch::kBFloat16))) << k;
  }
  EXPECT_EQ(json_of(hf / "config.json")["torch_dtype"], "bfloat16");

  // An existing folder is not overwritten.
  EXPECT_EQ(ckpt_cli({rd::kCkptExportHf}, {"export-hf", t.ckpt, "--hf_out", hf.string()}, &out, &err), 1);
  EXPECT_NE(err.find(hf.string()), std::string::npos) << err;
  EXPECT_NE(err.find("not empty"), std::string::npos) << err;
  // A config that does not exist.
  const std::string none = (t.tmp.path / "nope.yaml").string();
  EXPECT_EQ(ckpt_cli({rd::kCkptExportHf}, {"export-hf", t.ckpt, "--hf_out", (t.tmp.path / "x").string(), "--config", none},
                     &out, &err),
            1);
  EXPECT_NE(err.find(none), std::string::npos) << err;
  // A checkpoint missing a trainable weight: named.
  rd::StateDict partial = rd::testing::named_trainables(*t.model);
  partial.erase("lm_head.weight");
  const fs::path bad = t.tmp.path / "bad";
  rd::testing::save_training_checkpoint(bad, 1, partial, t.yaml, t.tok);
  EXPECT_EQ(ckpt_cli({rd::kCkptExportHf}, {"export-hf", bad.string(), "--hf_out", (t.tmp.path / "y").string()}, &out, &err),
            1);
  EXPECT_NE(err.find("lm_head.weight"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(t.tmp.path / "y"));
}

TEST(ExportHf, ProbeComparisonDetectsAChange) {
  rd::ProbeOutputs a;
  a.logits = torch::randn({1, 5, 7});
  a.pred_embeddings = torch::randn({1, 4});
  a.points = torch::rand({3, 2}) * 10;
  a.masks = torch::randn({1, 6, 8});
  rd::ProbeOutputs b = a;
  EXPECT_TRUE(rd::compare_probe(a, b).within(0));
  b.masks = a.masks.clone();
  b.masks[0][2][3] += 0.5;
  EXPECT_FALSE(rd::compare_probe(b, a).within(1e-3));
  b = a;
  b.points = a.points + 0.01;
  EXPECT_FALSE(rd::compare_probe(b, a).within(1e-3)) << "moved SasP points must fail the check";
}

TEST(ExportHf, Help) {
  std::string out;
  ASSERT_EQ(ckpt_cli({rd::kCkptExportHf}, {"export-hf", "--help"}, &out), 0);
  for (const char* f : {"--hf_out", "--dtype", "--max_shard_mb", "--config", "--probe_rtol"})
    EXPECT_NE(out.find(f), std::string::npos) << f << " missing from:\n" << out;
}

}  // namespace
