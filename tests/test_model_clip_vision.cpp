// CLIP vision tower parity with HF CLIPVisionModel over every clip_vision
// fixture case, plus the loader's key reporting.
#include <filesystem>

#include "common/error.h"
#include "model/clip_vision.h"
#include "checkpoints/formats/load_state_dict.h"
#include "tests/harness/fixtures.h"

using rd::testing::cases_of_kind;

namespace {

rd::ClipVisionModel build(const rd::testing::FixtureCase& c) {
  rd::ClipVisionModel m(rd::ClipVisionConfig::from_file(c.file("config")));
  rd::LoadReport r = m->load(rd::load_state_dict(c.file("weights")));
  EXPECT_TRUE(r.ok()) << c.name() << r.describe();
  return m;
}

}  // namespace

TEST(ClipVision, ConfigFromEitherLayout) {
  for (const auto& c : cases_of_kind("clip_vision")) {
    SCOPED_TRACE(c.name());
    rd::ClipVisionConfig cfg = rd::ClipVisionConfig::from_file(c.file("config"));
    const auto& want = c.config().at("vision_config");
    EXPECT_EQ(cfg.hidden_size, want.at("hidden_size").get<int64_t>());
    EXPECT_EQ(cfg.intermediate_size, want.at("intermediate_size").get<int64_t>());
    EXPECT_EQ(cfg.num_hidden_layers, want.at("num_hidden_layers").get<int64_t>());
    EXPECT_EQ(cfg.num_attention_heads, want.at("num_attention_heads").get<int64_t>());
    EXPECT_EQ(cfg.image_size, want.at("image_size").get<int64_t>());
    EXPECT_EQ(cfg.patch_size, want.at("patch_size").get<int64_t>());
    EXPECT_EQ(cfg.hidden_act, want.at("hidden_act").get<std::string>());
    EXPECT_DOUBLE_EQ(cfg.layer_norm_eps, want.at("layer_norm_eps").get<double>());
    EXPECT_EQ(cfg.num_patches(), c.config().at("num_patches").get<int64_t>());
  }
}

TEST(ClipVision, EveryCaseMatchesReference) {
  torch::NoGradGuard no_grad;
  for (const auto& c : cases_of_kind("clip_vision")) {
    SCOPED_TRACE(c.name());
    rd::ClipVisionModel m = build(c);
    torch::Tensor px = c.input("pixel_values");
    rd::ClipVisionOutput out = m->forward(px);
    ASSERT_EQ(out.hidden_states.size(), size_t(m->config().num_hidden_layers + 1));
    for (size_t i = 0; i < out.hidden_states.size(); ++i)
      EXPECT_MATCHES(c, "hidden_states_" + std::to_string(i), out.hidden_states[i]);
    EXPECT_MATCHES(c, "last_hidden_state", out.last_hidden_state);
    EXPECT_MATCHES(c, "pooler_output", out.pooler_output);
    const auto& cfg = c.config();
    torch::Tensor feat = m->features(px, cfg.at("mm_vision_select_layer").get<int64_t>(),
                                     cfg.at("mm_vision_select_feature").get<std::string>());
    EXPECT_MATCHES(c, "image_features", feat);
    // cls_patch keeps the CLS row of the same hidden state.
    torch::Tensor with_cls = m->features(px, -2, "cls_patch");
    EXPECT_TRUE(torch::equal(with_cls.slice(1, 1), feat));
  }
}

TEST(ClipVision, LoaderReportsKeysByName) {
  for (const auto& c : cases_of_kind("clip_vision")) {
    SCOPED_TRACE(c.name());
    rd::StateDict sd = rd::load_state_dict(c.file("weights"));
    rd::ClipVisionModel m(rd::ClipVisionConfig::from_file(c.file("config")));
    sd.erase("vision_model.encoder.layers.0.mlp.fc1.bias");
    sd["vision_model.encoder.layers.0.mlp.fc3.weight"] = torch::zeros({2});
    sd["vision_model.pre_layrnorm.weight"] = torch::zeros({7});
    sd["text_model.whatever"] = torch::zeros({1});  // outside the vision tower: ignored
    rd::LoadReport r = m->load(sd);
    ASSERT_EQ(r.missing.size(), 1u);
    EXPECT_EQ(r.missing[0], "vision_model.encoder.layers.0.mlp.fc1.bias");
    ASSERT_EQ(r.unexpected.size(), 1u);
    EXPECT_EQ(r.unexpected[0], "vision_model.encoder.layers.0.mlp.fc3.weight");
    ASSERT_EQ(r.mismatched.size(), 1u);
    EXPECT_NE(r.mismatched[0].find("vision_model.pre_layrnorm.weight"), std::string::npos);
    try {
      r.check("CLIP", c.name());
      ADD_FAILURE() << "check() accepted a bad state dict";
    } catch (const rd::Error& e) {
      EXPECT_NE(std::string(e.what()).find("mlp.fc1.bias"), std::string::npos) << e.what();
    }
    // Under a prefix (unmerged LLaVA layout) the same tensors load.
    rd::StateDict prefixed;
    for (auto& [k, t] : rd::load_state_dict(c.file("weights"))) prefixed["model.vision_tower.vision_tower." + k] = t;
    EXPECT_TRUE(m->load(prefixed, "model.vision_tower.vision_tower.").ok());
  }
}

TEST(ClipVision, FolderLoaderAndBadConfig) {
  for (const auto& c : cases_of_kind("clip_vision")) {
    SCOPED_TRACE(c.name());
    rd::ClipVisionModel m = rd::load_clip_vision_folder(c.file("model_dir"));
    torch::NoGradGuard no_grad;
    EXPECT_MATCHES(c, "image_features", m->features(c.input("pixel_values")));
  }
  nlohmann::json bad = {{"model_type", "clip_vision_model"}, {"hidden_size", 50}, {"num_attention_heads", 4}};
  EXPECT_THROW(rd::ClipVisionConfig::from_json(bad, "bad.json"), rd::Error);
  nlohmann::json llama = {{"model_type", "llama"}};
  EXPECT_THROW(rd::ClipVisionConfig::from_json(llama, "llama.json"), rd::Error);
  nlohmann::json act = {{"hidden_act", "swish"}};
  EXPECT_THROW(rd::ClipVisionConfig::from_json(act, "act.json"), rd::Error);
}
