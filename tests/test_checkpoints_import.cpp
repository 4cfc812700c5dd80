// read_ckpt import: a LLaVA-1.5 folder (tiny fixture weights in the real
// layout, with a 1000-piece LLaMA tokenizer), the CLIP folder and SAM's .pth
// become a READ HF folder that (1) holds exactly the model read_trainer
// builds from those sources for the same config (vocabulary 1000 -> 1003 with
// the same new rows, SAM, fresh text_hidden_fcs) and (2) read_trainer's model
// factory loads as model.init pretrained with llava_dir = the folder and no
// sam_checkpoint, giving the same weights and outputs. Errors name the input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoints/formats/json_file.h"
#include "checkpoints/ckpt_import.h"
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

nlohmann::json json_of(const fs::path& p) { return rd::read_json_file(p.string()); }

struct Sources {
  TempFolder tmp{"import"};
  fs::path llava = tmp.path / "llava-v1.5-tiny";
  std::string clip, sam, yaml = (tmp.path / "config.yaml").string();
  rd::StateDict llava_weights;
  nlohmann::json sam_config;

  Sources() {
    const auto lc = rd::testing::cases_of_kind("llava").at(0);
    const auto sc = rd::testing::cases_of_kind("sam").at(0);
    const auto tc = rd::testing::cases_of_kind("tokenizer").at(0);
    clip = lc.file("vision_tower_dir");
    sam = sc.file("weights");
    sam_config = sc.config();
    // A LLaVA-1.5 folder: the fixture's weights and config.json with the
    // tokenizer's 1000-piece vocabulary (extra rows N(0, 0.02)), its tokenizer files.
    const fs::path base_tok = fs::path(tc.dir()) / "tokenizer_base";
    fs::create_directories(llava);
    for (const auto& e : fs::directory_iterator(base_tok)) fs::copy_file(e.path(), llava / e.path().filename());
    nlohmann::json config = json_of(lc.file("config"));
    config["vocab_size"] = 1000;
    std::ofstream(llava / "config.json") << config.dump(2);
    llava_weights = rd::load_state_dict(lc.file("weights"));
    torch::manual_seed(0);
    for (const char* k : {"model.embed_tokens.weight", "lm_head.weight"}) {
      torch::Tensor w = llava_weights.at(k);
      llava_weights[k] = torch::cat({w, torch::randn({1000 - w.size(0), w.size(1)}) * 0.02});
    }
    rd::save_safetensors((llava / "model.safetensors").string(), llava_weights, {{"format", "pt"}});
    std::ofstream(yaml) << rd::testing::tiny_train_yaml(model_yaml(llava.string(), true));
  }

  std::string model_yaml(const std::string& llava_dir, bool with_sam) const {
    const nlohmann::json& s = sam_config;
    std::string globals;
    for (const auto& g : s.at("encoder_global_attn_indexes")) globals += (globals.empty() ? "" : ", ") + g.dump();
    return "  init: pretrained\n  llava_dir: " + llava_dir + "\n  vision_tower_dir: " + clip + "\n" +
           (with_sam ? "  sam_checkpoint: " + sam + "\n" : "") +
           "  sam: {variant: custom, image_size: " + s.at("img_size").dump() +
           ", embed_dim: " + s.at("encoder_embed_dim").dump() + ", depth: " + s.at("encoder_depth").dump() +
           ", num_heads: " + s.at("encoder_num_heads").dump() + ", window_size: " + s.at("window_size").dump() +
           ", global_attn_indexes: [" + globals + "], prompt_embed_dim: " + s.at("prompt_embed_dim").dump() +
           ", decoder_mlp_dim: " + s.at("decoder_mlp_dim").dump() +
           ", decoder_num_heads: " + s.at("decoder_num_heads").dump() +
           ", iou_head_hidden_dim: " + s.at("iou_head_hidden_dim").dump() + "}\n" +
           "  lora: {r: 4, alpha: 8, dropout: 0.0}\n  sasp: {num_points: 8, down_sample: 1}\n" +
           "  out_dim: " + s.at("prompt_embed_dim").dump() +
           "\n  precision: fp32\n  gradient_checkpointing: false\n";
  }
};

TEST(Import, ReadFolderIsWhatTheTrainerBuildsAndLoadsAsInit) {
  Sources s;
  const fs::path out = s.tmp.path / "read-tiny-init";
  std::string o, err;
  ASSERT_EQ(ckpt_cli({rd::kCkptImport}, {"import", s.llava.string(), s.clip, s.sam, "--config", s.yaml, "--hf_out",
                                         out.string(), "--max_shard_mb", "1"},
                     &o, &err),
            0)
      << o << err;
  std::cout << o;  // the figures
  EXPECT_NE(o.find("vocabulary 1000 -> 1003"), std::string::npos) << o;

  // What read_trainer builds from the raw sources with this config.
  const rd::ModelSection cfg = rd::ModelSection::load(s.yaml, {}, false);
  const rd::Tokenizer tok = rd::Tokenizer::from_folder(s.llava.string());
  torch::manual_seed(rd::TrainSection::load(s.yaml).seed);
  rd::ReadForCausalLM ref = rd::make_read_model(cfg, tok);
  const rd::StateDict want = rd::module_state(*ref);
  ASSERT_EQ(want.at("model.embed_tokens.weight").size(0), 1003);
  EXPECT_TRUE(torch::equal(want.at("model.embed_tokens.weight").narrow(0, 0, 1000),
                           s.llava_weights.at("model.embed_tokens.weight")));
  for (const auto& [k, v] : rd::load_state_dict(s.sam))
    EXPECT_TRUE(torch::equal(want.at("model.visual_model." + k), v)) << k;

  // The folder: reference layout, every weight of that model.
  const nlohmann::json config = json_of(out / "config.json");
  EXPECT_EQ(config["vocab_size"], 1003);
  EXPECT_EQ(config["mm_vision_tower"], fs::absolute(s.clip).lexically_normal().string());
  EXPECT_FALSE(fs::exists(out / "vision_tower"));
  EXPECT_EQ(json_of(out / "added_tokens.json"), nlohmann::json({{"[SEG]", 1000}, {"<im_start>", 1001}, {"<im_end>", 1002}}));
  const rd::StateDict written = rd::load_state_dict(out.string());
  for (const auto& [k, v] : written) {
    EXPECT_EQ(k.find("vision_tower"), std::string::npos) << k;
    EXPECT_FALSE(rd::is_lora_parameter(k)) << k;
    ASSERT_TRUE(want.count(k)) << k;
    EXPECT_TRUE(torch::equal(v, want.at(k))) << k;
  }

  // Training from it: model.init pretrained, llava_dir = the folder, no sam_checkpoint.
  const std::string yaml2 = (s.tmp.path / "from_import.yaml").string();
  std::ofstream(yaml2) << rd::testing::tiny_train_yaml(s.model_yaml(out.string(), false));
  const rd::ModelSection cfg2 = rd::ModelSection::load(yaml2, {}, true);  // paths checked, as the trainer does
  EXPECT_TRUE(cfg2.sam_checkpoint.empty());
  const rd::Tokenizer tok2 = rd::Tokenizer::from_folder(cfg2.tokenizer_dir);
  EXPECT_EQ(tok2.size(), 1003);
  EXPECT_EQ(tok2.seg_id(), 1000);
  torch::manual_seed(rd::TrainSection::load(yaml2).seed);
  rd::ReadForCausalLM m = rd::make_read_model(cfg2, tok2);
  const rd::StateDict got = rd::module_state(*m);
  size_t compared = 0;
  for (const auto& [k, v] : want) {
    if (rd::is_lora_parameter(k)) continue;
    ASSERT_TRUE(got.count(k)) << k;
    EXPECT_TRUE(torch::equal(got.at(k), v)) << k;
    ++compared;
  }
  size_t tower = 0;
  for (const auto& [k, v] : want) tower += rd::is_vision_tower_key(k);
  EXPECT_EQ(compared, written.size() + tower) << "written: every non-LoRA, non-tower weight";
  const rd::ProbeComparison cmp = rd::compare_probe(rd::run_probe(*m, rd::probe_batch(m->read_config(), 1)),
                                                    rd::run_probe(*ref, rd::probe_batch(ref->read_config(), 1)));
  EXPECT_TRUE(cmp.within(1e-6)) << cmp.describe();
}

TEST(Import, ErrorsNameTheInput) {
  Sources s;
  std::string o, err;
  const std::string out = (s.tmp.path / "o").string();
  const std::string missing = (s.tmp.path / "sam_vit_h.pth").string();
  EXPECT_EQ(ckpt_cli({rd::kCkptImport}, {"import", s.llava.string(), s.clip, missing, "--config", s.yaml, "--hf_out", out},
                     &o, &err),
            1);
  EXPECT_NE(err.find(missing), std::string::npos) << err;
  // A folder whose config.json vocabulary is not the tokenizer's minus 3.
  nlohmann::json config = json_of(s.llava / "config.json");
  config["vocab_size"] = 1003;
  std::ofstream(s.llava / "config.json") << config.dump(2);
  EXPECT_EQ(ckpt_cli({rd::kCkptImport}, {"import", s.llava.string(), s.clip, s.sam, "--config", s.yaml, "--hf_out", out},
                     &o, &err),
            1);
  EXPECT_NE(err.find((s.llava / "config.json").string()), std::string::npos) << err;
  EXPECT_NE(err.find("vocab_size 1003"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(out));
  // No --config.
  EXPECT_EQ(ckpt_cli({rd::kCkptImport}, {"import", "--hf_out", out}, &o, &err), 1);
  EXPECT_NE(err.find("--config"), std::string::npos) << err;
  // A flag of another subcommand.
  EXPECT_EQ(ckpt_cli({rd::kCkptImport}, {"import", "--config", s.yaml, "--hf_out", out, "--probe_rtol", "1"}, &o, &err),
            2);
}

TEST(Import, Help) {
  std::string out;
  ASSERT_EQ(ckpt_cli({rd::kCkptImport}, {"import", "--help"}, &out), 0);
  for (const char* f : {"--hf_out", "--config", "--dtype", "--max_shard_mb", "LLAVA_DIR CLIP_DIR SAM_PTH"})
    EXPECT_NE(out.find(f), std::string::npos) << f << " missing from:\n" << out;
  EXPECT_EQ(out.find("--probe_rtol"), std::string::npos) << "export-hf's flag listed for import";
}

}  // namespace
