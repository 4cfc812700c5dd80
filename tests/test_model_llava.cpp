// LLaVA-1.5 as READ uses it, over every `llava` fixture case: vision tower ->
// projector -> splice at -200 (embeddings, labels, attention, positions,
// [SEG] mask) -> LLaMA.
#include <fstream>

#include "common/error.h"
#include "model/clip_vision.h"
#include "checkpoints/formats/load_state_dict.h"
#include "model/llava.h"
#include "model/llava_splice.h"
#include "model/mm_projector.h"
#include "tests/harness/fixtures.h"

using rd::testing::cases_of_kind;

TEST(LlavaSplice, EveryCaseMatchesReference) {
  torch::NoGradGuard no_grad;
  for (const auto& c : cases_of_kind("llava")) {
    SCOPED_TRACE(c.name());
    const auto& cfg = c.config();
    rd::StateDict sd = rd::load_state_dict(c.file("weights"));
    rd::ClipVisionModel clip = rd::load_clip_vision_folder(c.file("vision_tower_dir"));
    nlohmann::json hf = nlohmann::json::parse(std::ifstream(c.file("config")));
    rd::MmProjector proj(hf.at("mm_projector_type").get<std::string>(), hf.at("mm_hidden_size").get<int64_t>(),
                         hf.at("hidden_size").get<int64_t>());
    rd::LoadOptions lo;
    lo.prefix = "model.mm_projector.";
    rd::LoadReport rep = rd::load_into(*proj, sd, lo);
    EXPECT_TRUE(rep.ok()) << rep.describe();
    EXPECT_EQ(rep.loaded.size(), 4u);

    torch::Tensor ids = c.input("input_ids");
    torch::Tensor clip_feat = clip->features(c.input("pixel_values"), hf.at("mm_vision_select_layer").get<int64_t>(),
                                             hf.at("mm_vision_select_feature").get<std::string>());
    EXPECT_MATCHES(c, "clip_features", clip_feat);
    torch::Tensor feats = proj(clip_feat);
    EXPECT_MATCHES(c, "image_features", feats);

    torch::Tensor tok = torch::embedding(sd.at("model.embed_tokens.weight"), ids.clamp_min(0));
    rd::SplicedBatch s =
        rd::splice_image_features(ids, tok, feats, c.input("attention_mask"), c.input("labels"));
    EXPECT_EQ(s.num_image_tokens, cfg.at("num_image_tokens").get<int64_t>());
    EXPECT_EQ(s.inputs_embeds.size(1), cfg.at("spliced_len").get<int64_t>());
    EXPECT_MATCHES(c, "inputs_embeds", s.inputs_embeds);
    EXPECT_MATCHES(c, "new_attention_mask", s.attention_mask);
    EXPECT_MATCHES(c, "new_labels", s.labels);
    EXPECT_MATCHES(c, "token_new_position", s.token_new_position);
    EXPECT_MATCHES(c, "image_token_position", s.image_token_position);
    EXPECT_MATCHES(c, "seg_token_mask", rd::seg_token_mask(ids, s, cfg.at("seg_token_idx").get<int64_t>()));
  }
}

TEST(LlavaSplice, LeftPaddingInsertsImageMaskAtTheImage) {
  // Row 0 left-padded: [pad pad BOS x -200 y]; the P image positions must be
  // attended and the padding must stay masked (the reference prepends trues).
  torch::Tensor ids = torch::tensor({0, 0, 1, 5, -200, 6}, torch::kLong).view({1, 6});
  torch::Tensor mask = ids.ne(0);
  torch::Tensor tok = torch::randn({1, 6, 4});
  torch::Tensor feats = torch::randn({1, 3, 4});
  rd::SplicedBatch s = rd::splice_image_features(ids, tok, feats, mask);
  torch::Tensor want = torch::tensor({0, 0, 1, 1, 1, 1, 1, 1}, torch::kBool).view({1, 8});
  EXPECT_TRUE(torch::equal(s.attention_mask, want)) << s.attention_mask;
  EXPECT_TRUE(torch::equal(s.inputs_embeds[0].slice(0, 4, 7), feats[0]));
  EXPECT_TRUE(torch::equal(s.inputs_embeds[0][7], tok[0][5]));
}

TEST(LlavaSplice, RowIndexAndErrors) {
  torch::Tensor off = torch::tensor({0, 2, 2, 5}, torch::kLong);
  EXPECT_TRUE(torch::equal(rd::image_index_of_rows(off), torch::tensor({0, 0, 2, 2, 2}, torch::kLong)));
  torch::Tensor two = torch::tensor({1, -200, 3, -200}, torch::kLong).view({1, 4});
  EXPECT_THROW(rd::image_token_positions(two), rd::Error);
  torch::Tensor none = torch::tensor({1, 2, 3}, torch::kLong).view({1, 3});
  EXPECT_THROW(rd::image_token_positions(none), rd::Error);
  EXPECT_THROW(rd::image_index_of_rows(torch::tensor({0, 3, 1}, torch::kLong)), rd::Error);
}

TEST(Llava, EveryCaseForwardMatchesReference) {
  torch::NoGradGuard no_grad;
  for (const auto& c : cases_of_kind("llava")) {
    SCOPED_TRACE(c.name());
    const auto& cfg = c.config();
    rd::LlavaForCausalLM m = rd::load_llava_folder(c.file("model_dir"), c.file("vision_tower_dir"));
    EXPECT_EQ(m->num_image_tokens(), cfg.at("num_image_tokens").get<int64_t>());
    torch::Tensor feats = m->encode_images(c.input("pixel_values"));
    EXPECT_MATCHES(c, "image_features", feats);
    rd::LlavaInputs in;
    in.input_ids = c.input("input_ids");
    in.attention_mask = c.input("attention_mask");
    in.labels = c.input("labels");
    in.image_features = feats;  // one image per row here
    in.output_hidden_states = true;
    rd::LlavaOutput out = m->forward(in);
    EXPECT_MATCHES(c, "inputs_embeds", out.spliced.inputs_embeds);
    EXPECT_MATCHES(c, "logits", out.llm.logits);
    EXPECT_MATCHES(c, "last_hidden_state", out.llm.last_hidden_state);
    EXPECT_MATCHES(c, "loss", out.llm.loss);
    for (size_t i = 0; i < out.llm.hidden_states.size(); ++i)
      EXPECT_MATCHES(c, "hidden_states_" + std::to_string(i), out.llm.hidden_states[i]);
    torch::Tensor seg = rd::seg_token_mask(in.input_ids, out.spliced, cfg.at("seg_token_idx").get<int64_t>());
    EXPECT_MATCHES(c, "seg_hidden_states", out.llm.last_hidden_state.index({seg}));
  }
}

TEST(Llava, ParameterNamesAreCheckpointKeys) {
  for (const auto& c : cases_of_kind("llava")) {
    SCOPED_TRACE(c.name());
    rd::LlavaForCausalLM m = rd::load_llava_folder(c.file("model_dir"), c.file("vision_tower_dir"));
    rd::StateDict file = rd::load_state_dict(c.file("weights"));
    rd::StateDict ours = rd::module_state(*m);
    for (const auto& [k, t] : file) {
      ASSERT_TRUE(ours.count(k)) << k;
      EXPECT_TRUE(torch::equal(ours[k], t)) << k;
    }
    for (const auto& [k, t] : ours)
      if (!rd::is_vision_tower_key(k)) EXPECT_TRUE(file.count(k)) << "not in the checkpoint: " << k;
    // frozen vision side, trainable LLM
    for (const auto& p : m->named_parameters())
      EXPECT_EQ(p.value().requires_grad(), !rd::is_vision_tower_key(p.key()) &&
                                               p.key().find("mm_projector") == std::string::npos)
          << p.key();
    // a wrong key is reported by name
    file["model.mm_projector.1.weight"] = torch::zeros({1});
    file.erase("model.layers.0.mlp.up_proj.weight");
    rd::LoadReport r = m->load_llava_weights(file);
    ASSERT_EQ(r.unexpected.size(), 1u);
    EXPECT_EQ(r.unexpected[0], "model.mm_projector.1.weight");
    ASSERT_EQ(r.missing.size(), 1u);
    EXPECT_EQ(r.missing[0], "model.layers.0.mlp.up_proj.weight");
  }
}
