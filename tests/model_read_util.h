// Shared by the READ model tests: configs and batches from read_forward
// fixture cases, and a synthetic batch for any ReadModelConfig.
#pragma once
#include <nlohmann/json.hpp>

#include "model/read_model.h"
#include "model/read_model_loading.h"
#include "tests/harness/fixtures.h"

namespace rd::testing {

// The SAM settings of a `sam` case config or a read_forward case's "sam".
inline sam::SamConfig sam_config_from_json(const nlohmann::json& s) {
  sam::SamConfig c;
  c.img_size = s.at("img_size");
  c.patch_size = s.at("patch_size");
  c.encoder_embed_dim = s.at("encoder_embed_dim");
  c.encoder_depth = s.at("encoder_depth");
  c.encoder_num_heads = s.at("encoder_num_heads");
  c.encoder_global_attn_indexes = s.at("encoder_global_attn_indexes").get<std::vector<int64_t>>();
  c.window_size = s.at("window_size");
  c.mlp_ratio = s.at("mlp_ratio");
  c.encoder_layernorm_eps = s.at("encoder_layernorm_eps");
  c.prompt_embed_dim = s.at("prompt_embed_dim");
  c.mask_in_chans = s.at("mask_in_chans");
  c.num_multimask_outputs = s.at("num_multimask_outputs");
  c.decoder_transformer_depth = s.at("decoder_transformer_depth");
  c.decoder_num_heads = s.at("decoder_num_heads");
  c.decoder_mlp_dim = s.at("decoder_mlp_dim");
  c.iou_head_depth = s.at("iou_head_depth");
  c.iou_head_hidden_dim = s.at("iou_head_hidden_dim");
  return c;
}

// A read_forward case's model settings (the rest comes from its folders).
inline ReadModelConfig read_config_of(const FixtureCase& c) {
  const nlohmann::json& j = c.config();
  ReadModelConfig cfg = ReadModelConfig::tiny();
  cfg.sam = sam_config_from_json(j.at("sam"));
  cfg.out_dim = j.at("out_dim");
  cfg.vocab_size = j.at("llama").at("vocab_size");
  cfg.seg_token_id = j.at("token_ids").at("seg");
  const nlohmann::json& sa = j.at("sasp");
  cfg.sasp.down_sample = sa.at("down_sample");
  cfg.sasp.num_points = sa.at("num_points");
  cfg.sasp.t_pos = sa.at("t_pos");
  cfg.sasp.t_neg = sa.at("t_neg");
  cfg.sasp.target_size = j.at("sasp_target_size");
  const nlohmann::json& w = j.at("loss_weights");
  cfg.loss = LossWeights{w.at("ce_loss_weight"), w.at("bce_loss_weight"), w.at("dice_loss_weight")};
  cfg.gradient_checkpointing = false;
  return cfg;
}

inline ReadBatch read_batch_of(const FixtureCase& c) {
  ReadBatch b;
  b.images = c.input("images");
  b.images_clip = c.input("images_clip");
  b.input_ids = c.input("input_ids");
  b.labels = c.input("labels");
  b.attention_masks = c.input("attention_masks");
  b.offset = c.input("offset");
  torch::Tensor sam_hw = c.input("sam_input_size"), hw = c.input("original_size");
  for (int64_t i = 0; i < b.images.size(0); ++i) {
    b.masks_list.push_back(c.input("masks_" + std::to_string(i)));
    b.sam_mask_shape_list.push_back({sam_hw[i][0].item<int64_t>(), sam_hw[i][1].item<int64_t>(),
                                     hw[i][0].item<int64_t>(), hw[i][1].item<int64_t>()});
  }
  return b;
}

// The case's READ checkpoint + CLIP folder + PEFT adapter, in eval mode (the
// fixtures run LoRA without dropout).
inline ReadForCausalLM read_model_of(const FixtureCase& c) {
  ReadWeightSources src;
  src.model_dir = c.file("model_dir");
  src.vision_tower = c.file("vision_tower_dir");
  src.adapter = c.file("adapter_dir");
  ReadForCausalLM m = load_read_model(read_config_of(c), src);
  m->eval();
  return m;
}

// Two images (40x56 and 50x30): image 0 with two one-[SEG] conversations,
// image 1 with one conversation holding TWO [SEG] (the reference cannot do
// this: spec 10.1). Random pixels and masks, right padding.
inline ReadBatch synthetic_read_batch(const ReadModelConfig& cfg, int64_t seed = 0) {
  torch::manual_seed(seed);
  const int64_t seg = cfg.seg_token_id, S = cfg.sam.img_size, C = cfg.llava.vision.image_size;
  const int64_t im_start = seg + 1 < cfg.vocab_size ? seg + 1 : 3, im_end = seg + 2 < cfg.vocab_size ? seg + 2 : 4;
  const std::vector<std::vector<int64_t>> rows = {
      {1, 5, 6, im_start, -200, im_end, 7, 8, 9, seg, 10, 2},
      {1, 5, im_start, -200, im_end, 11, 12, seg, 2},
      {1, 5, 6, im_start, -200, im_end, 13, 14, seg, 15, seg, 16, 2},
  };
  const std::vector<int64_t> answer_start = {8, 5, 7};
  const int64_t L = 13;
  ReadBatch b;
  b.input_ids = torch::zeros({3, L}, torch::kLong);
  b.labels = torch::full({3, L}, -100, torch::kLong);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < int64_t(rows[r].size()); ++j) {
      b.input_ids[r][j] = rows[r][j];
      if (j >= answer_start[r]) b.labels[r][j] = rows[r][j];
    }
  b.attention_masks = b.input_ids.ne(0);
  b.offset = torch::tensor({0, 2, 3}, torch::kLong);
  b.images = torch::randn({2, 3, S, S});
  b.images_clip = torch::randn({2, 3, C, C});
  const std::vector<std::pair<int64_t, int64_t>> hw = {{40, 56}, {50, 30}};
  const std::vector<int64_t> n_masks = {2, 2};
  for (int64_t i = 0; i < 2; ++i) {
    auto [h, w] = hw[i];
    auto [sh, sw] = sam_preprocess_shape(h, w, S);
    b.sam_mask_shape_list.push_back({sh, sw, h, w});
    b.masks_list.push_back(torch::rand({n_masks[i], h, w}).gt(0.6).to(torch::kFloat32));
  }
  return b;
}

}  // namespace rd::testing
