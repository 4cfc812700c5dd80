// READ model behaviour beyond the reference fixtures: teacher-forced
// inference, several [SEG] per conversation, gradient checkpointing,
// building from LLaVA-1.5 + SAM .pth (vocabulary resize, fresh LoRA and
// text_hidden_fcs), trainable set, errors, YAML config, bf16.
#include <yaml-cpp/yaml.h>

#include "checkpoints/formats/load_state_dict.h"
#include "common/config_reader.h"
#include "common/error.h"
#include "model/lora.h"
#include "model/read_generate.h"
#include "tests/model_read_util.h"

using rd::testing::cases_of_kind;

namespace {

std::map<std::string, torch::Tensor> grads_of(rd::ReadForCausalLMImpl& m) {
  std::map<std::string, torch::Tensor> g;
  for (const auto& p : m.named_parameters())
    if (p.value().grad().defined()) g[p.key()] = p.value().grad().clone();
  return g;
}

void expect_only_trainable_have_grads(rd::ReadForCausalLMImpl& m) {
  for (const auto& p : m.named_parameters()) {
    const bool trainable = rd::is_read_trainable(p.key());
    EXPECT_EQ(p.value().requires_grad(), trainable) << p.key();
    if (!trainable) EXPECT_FALSE(p.value().grad().defined()) << p.key();
  }
}

}  // namespace

TEST(ReadModel, TeacherForcedInferenceGivesTheTrainingMasks) {
  torch::NoGradGuard no_grad;
  for (const auto& c : cases_of_kind("read_forward")) {
    SCOPED_TRACE(c.name());
    rd::ReadForCausalLM m = rd::testing::read_model_of(c);
    rd::ReadBatch b = rd::testing::read_batch_of(c);
    b.labels = torch::Tensor();
    b.masks_list.clear();
    rd::ReadForwardOutput out = m->forward_batch(b);
    EXPECT_FALSE(out.losses.loss.defined());
    EXPECT_FALSE(out.llava.llm.logits.defined());
    for (size_t i = 0; i < out.pred_masks.size(); ++i) {
      const std::string n = "pred_masks_" + std::to_string(i);
      EXPECT_MATCHES(c, c.expected().count(n + "_fixed") ? n + "_fixed" : n, out.pred_masks[i]);
    }
  }
}

TEST(ReadModel, SeveralSegPerConversationEachGetTheirOwnPrompt) {
  rd::ReadModelConfig cfg = rd::ReadModelConfig::tiny();
  rd::ReadForCausalLM m = rd::build_read_model(cfg);
  m->eval();
  rd::ReadBatch b = rd::testing::synthetic_read_batch(cfg);
  rd::ReadForwardOutput out = m->forward_batch(b);
  ASSERT_EQ(out.segs.size(), 4u);
  EXPECT_EQ(out.pred_embeddings.size(0), 4);
  const int64_t P = cfg.num_image_tokens();
  // row 2 holds two [SEG]: both use image 1's size and row 2's image tokens,
  // each with its own state (one before its [SEG]).
  EXPECT_EQ(out.segs[2].conversation, 2);
  EXPECT_EQ(out.segs[3].conversation, 2);
  for (int k = 0; k < 4; ++k) {
    const auto& s = out.segs[k];
    const auto& shape = b.sam_mask_shape_list[s.image];
    EXPECT_EQ(s.height, shape.height);
    EXPECT_EQ(s.width, shape.width);
    // the state predicts [SEG]: the token after it is the [SEG]
    const int64_t tok = s.state_position + 1 - (P - 1);
    EXPECT_EQ(b.input_ids[s.conversation][tok].item<int64_t>(), cfg.seg_token_id);
    torch::Tensor h = out.llava.llm.last_hidden_state[s.conversation];
    torch::Tensor sim = torch::mv(h.narrow(0, 4 + (s.conversation == 1 ? -1 : 0), P), h[s.state_position]);
    EXPECT_TRUE(torch::allclose(s.sasp.similarity, sim, 1e-4, 1e-5));
  }
  EXPECT_FALSE(torch::equal(out.segs[2].sasp.similarity, out.segs[3].sasp.similarity));
  EXPECT_EQ(out.pred_masks[1].sizes(), (std::vector<int64_t>{2, 50, 30}));
  ASSERT_TRUE(out.losses.loss.defined());
  EXPECT_TRUE(std::isfinite(out.losses.loss.item<double>()));
  out.losses.loss.backward();
  expect_only_trainable_have_grads(*m);
  EXPECT_GT(m->text_hidden_fcs->parameters()[0].grad().abs().sum().item<double>(), 0);
}

TEST(ReadModel, GradientCheckpointingGivesTheSameGradients) {
  rd::ReadModelConfig cfg = rd::ReadModelConfig::tiny();
  rd::ReadForCausalLM m = rd::build_read_model(cfg);
  {  // non-zero LoRA B so that every LoRA parameter gets a gradient
    torch::NoGradGuard g;
    for (const auto& p : m->named_parameters())
      if (p.key().find("lora_B") != std::string::npos) p.value().normal_(0, 0.05);
  }
  m->train();  // LoRA dropout active: checkpointing must replay the same masks
  rd::ReadBatch b = rd::testing::synthetic_read_batch(cfg, 3);
  std::map<std::string, torch::Tensor> g[2];
  double loss[2];
  for (int ck = 0; ck < 2; ++ck) {
    m->llm->model->set_gradient_checkpointing(ck == 1);
    m->zero_grad();
    torch::manual_seed(7);
    rd::ReadForwardOutput out = m->forward_batch(b);
    out.losses.loss.backward();
    loss[ck] = out.losses.loss.item<double>();
    g[ck] = grads_of(*m);
  }
  EXPECT_NEAR(loss[0], loss[1], 1e-6);
  ASSERT_EQ(g[0].size(), g[1].size());
  for (const auto& [k, t] : g[0]) {
    ASSERT_TRUE(g[1].count(k)) << k;
    EXPECT_TRUE(torch::allclose(t, g[1][k], 1e-4, 1e-6)) << k << " max diff " << (t - g[1][k]).abs().max();
  }
}

TEST(ReadModel, FromLlavaAndSamCheckpointsAsTrainingFromScratch) {
  auto llava_cases = cases_of_kind("llava");
  auto sam_cases = cases_of_kind("sam");
  ASSERT_FALSE(llava_cases.empty());
  ASSERT_FALSE(sam_cases.empty());
  const auto& lc = llava_cases.front();
  const auto& sc = sam_cases.front();
  rd::StateDict llava_sd = rd::load_state_dict(lc.file("weights"));
  const int64_t base_vocab = llava_sd.at("model.embed_tokens.weight").size(0);

  rd::ReadModelConfig cfg = rd::ReadModelConfig::tiny();
  cfg.sam = rd::testing::sam_config_from_json(sc.config());
  cfg.out_dim = cfg.sam.prompt_embed_dim;
  cfg.vocab_size = base_vocab + 3;
  cfg.seg_token_id = base_vocab;
  rd::ReadWeightSources src;
  src.model_dir = lc.file("model_dir");
  src.sam = sc.file("weights");
  rd::ReadForCausalLM m = rd::load_read_model(cfg, src);

  // vocabulary resized, old rows kept, new rows ~ N(0, 0.02)
  torch::Tensor emb = m->llm->model->embed_tokens->weight, head = m->llm->lm_head->weight;
  ASSERT_EQ(emb.size(0), base_vocab + 3);
  ASSERT_EQ(head.size(0), base_vocab + 3);
  EXPECT_TRUE(torch::equal(emb.narrow(0, 0, base_vocab), llava_sd.at("model.embed_tokens.weight")));
  EXPECT_TRUE(torch::equal(head.narrow(0, 0, base_vocab), llava_sd.at("lm_head.weight")));
  const double sd_new = torch::cat({emb.narrow(0, base_vocab, 3), head.narrow(0, base_vocab, 3)}).std().item<double>();
  EXPECT_GT(sd_new, 0.01);
  EXPECT_LT(sd_new, 0.03);
  // SAM from its .pth, fresh LoRA (B = 0) on q_proj/v_proj only
  rd::StateDict sam_sd = rd::load_state_dict(sc.file("weights"));
  rd::StateDict ours = rd::module_state(*m);
  for (const auto& [k, t] : sam_sd) EXPECT_TRUE(torch::equal(ours.at("model.visual_model." + k), t)) << k;
  int lora_b = 0;
  for (const auto& [k, t] : ours)
    if (k.find("lora_B") != std::string::npos) {
      ++lora_b;
      EXPECT_TRUE(k.find("q_proj") != std::string::npos || k.find("v_proj") != std::string::npos) << k;
      EXPECT_EQ(t.abs().sum().item<double>(), 0.0) << k;
    }
  EXPECT_EQ(lora_b, 2 * m->llm->config().num_hidden_layers);
  // a training step's gradients reach exactly the trainable set
  rd::ReadBatch b = rd::testing::synthetic_read_batch(m->read_config());
  rd::ReadForwardOutput out = m->forward_batch(b);
  EXPECT_TRUE(std::isfinite(out.losses.loss.item<double>()));
  out.losses.loss.backward();
  expect_only_trainable_have_grads(*m);
  for (const char* k : {"model.embed_tokens.weight", "lm_head.weight", "model.text_hidden_fcs.0.0.weight",
                        "model.visual_model.mask_decoder.iou_token.weight"})
    EXPECT_TRUE(m->named_parameters()[k].grad().defined()) << k;

  // a LLaVA folder needs the SAM weights; a READ checkpoint must not get them
  src.sam.clear();
  EXPECT_THROW(rd::load_read_model(cfg, src), rd::Error);
  for (const auto& rc : cases_of_kind("read_forward")) {
    rd::ReadWeightSources r;
    r.model_dir = rc.file("model_dir");
    r.vision_tower = rc.file("vision_tower_dir");
    r.sam = sc.file("weights");
    EXPECT_THROW(rd::load_read_model(rd::testing::read_config_of(rc), r), rd::Error);
  }
}

TEST(ReadModel, MaskCountMismatchNamesTheImage) {
  rd::ReadModelConfig cfg = rd::ReadModelConfig::tiny();
  rd::ReadForCausalLM m = rd::build_read_model(cfg);
  rd::ReadBatch b = rd::testing::synthetic_read_batch(cfg);
  b.masks_list[1] = b.masks_list[1].narrow(0, 0, 1);  // 2 [SEG], 1 mask
  try {
    m->forward_batch(b);
    ADD_FAILURE() << "accepted a [SEG]/mask count mismatch";
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("image 1"), std::string::npos) << e.what();
  }
}

TEST(ReadModel, ConfigFromYaml) {
  YAML::Node n = YAML::Load(
      "preset: tiny\nvocab_size: 500\nseg_token_id: 497\nlora: {r: 4, alpha: 8}\n"
      "sasp: {num_points: 10, down_sample: 1}\nloss: {dice_loss_weight: 4.0}\n");
  rd::ConfigReader r(n, "model.yaml");
  rd::ReadModelConfig c = rd::ReadModelConfig::read(r);
  EXPECT_EQ(c.vocab_size, 500);
  EXPECT_EQ(c.seg_token_id, 497);
  EXPECT_EQ(c.lora.r, 4);
  EXPECT_DOUBLE_EQ(c.lora.alpha, 8.0);
  EXPECT_EQ(c.sasp.num_points, 10);
  EXPECT_EQ(c.sasp.down_sample, 1);
  EXPECT_DOUBLE_EQ(c.loss.dice, 4.0);
  EXPECT_EQ(rd::ReadModelConfig::read7b().llava.llm.hidden_size, 4096);
  EXPECT_EQ(rd::ReadModelConfig::read13b().llava.llm.hidden_size, 5120);
  EXPECT_EQ(rd::ReadModelConfig::read7b().num_image_tokens(), 576);
  YAML::Node bad = YAML::Load("preset: tiny\nvocab_sise: 500\n");
  rd::ConfigReader rb(bad, "bad.yaml");
  EXPECT_THROW(rd::ReadModelConfig::read(rb), rd::Error);
}

TEST(ReadModel, Bf16ForwardIsFinite) {
  rd::ReadModelConfig cfg = rd::ReadModelConfig::tiny();
  for (bool whole : {true, false}) {
    SCOPED_TRACE(whole ? "whole model bf16" : "LLaVA part bf16, SAM float32");
    rd::ReadForCausalLM m = rd::build_read_model(cfg);
    if (whole) {
      m->to(torch::kBFloat16);
    } else {
      m->llm->to(torch::kBFloat16);
      m->vision_tower->to(torch::kBFloat16);
      m->mm_projector->to(torch::kBFloat16);
      m->text_hidden_fcs->to(torch::kBFloat16);
    }
    m->eval();
    rd::ReadBatch b = rd::testing::synthetic_read_batch(cfg);
    rd::ReadForwardOutput out = m->forward_batch(b);
    EXPECT_TRUE(std::isfinite(out.losses.loss.item<double>()));
    out.losses.loss.backward();
    expect_only_trainable_have_grads(*m);
  }
}

TEST(ReadModel, GenerationMasksEqualTeacherForcedMasks) {
  // Rig: lm_head = 0 makes every logit 0, so greedy decoding emits id 0;
  // with seg_token_id 0 every generated token is a [SEG]. The masks must be
  // those of the teacher-forced forward over prompt ++ generated tokens.
  rd::ReadModelConfig cfg = rd::ReadModelConfig::tiny();
  cfg.seg_token_id = 0;
  rd::ReadForCausalLM m = rd::build_read_model(cfg);
  m->eval();
  {
    torch::NoGradGuard g;
    m->llm->lm_head->weight.zero_();
  }
  rd::ReadBatch b = rd::testing::synthetic_read_batch(cfg);
  rd::ReadGenerateInputs in;
  in.input_ids = torch::tensor({1, 5, 6, 7, -200, 8, 9, 10}, torch::kLong).view({1, 8});
  in.images_clip = b.images_clip.narrow(0, 1, 1);
  in.images = b.images.narrow(0, 1, 1);
  in.shapes = {b.sam_mask_shape_list[1]};
  in.options.max_new_tokens = 3;
  rd::ReadGenerateOutput gen = rd::read_generate(*m, in);
  ASSERT_EQ(gen.tokens.sizes(), (std::vector<int64_t>{1, 3}));
  ASSERT_EQ(gen.masks.segs.size(), 3u);
  ASSERT_EQ(gen.masks.pred_masks.size(), 1u);
  EXPECT_EQ(gen.masks.pred_masks[0].sizes(), (std::vector<int64_t>{3, 50, 30}));

  rd::ReadBatch tf;
  tf.input_ids = torch::cat({in.input_ids, gen.tokens}, 1);
  tf.attention_masks = torch::ones_like(tf.input_ids, torch::kBool);  // id 0 is a [SEG] here, not padding
  tf.images_clip = in.images_clip;
  tf.images = in.images;
  tf.offset = torch::tensor({0, 1}, torch::kLong);
  tf.sam_mask_shape_list = in.shapes;
  torch::NoGradGuard no_grad;
  rd::ReadForwardOutput ref = m->forward_batch(tf);
  ASSERT_EQ(ref.segs.size(), 3u);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(gen.masks.segs[k].state_position, ref.segs[k].state_position);
  EXPECT_TRUE(torch::allclose(gen.masks.pred_masks[0], ref.pred_masks[0], 1e-3, 1e-4))
      << (gen.masks.pred_masks[0] - ref.pred_masks[0]).abs().max();

  // No [SEG] generated (false premise): no mask.
  cfg.seg_token_id = 5;
  rd::ReadForCausalLM m2 = rd::build_read_model(cfg);
  m2->eval();
  {
    torch::NoGradGuard g;
    m2->llm->lm_head->weight.zero_();
  }
  rd::ReadGenerateOutput none = rd::read_generate(*m2, in);
  EXPECT_TRUE(none.masks.segs.empty());
  EXPECT_EQ(none.masks.pred_masks[0].sizes(), (std::vector<int64_t>{0, 50, 30}));
}
