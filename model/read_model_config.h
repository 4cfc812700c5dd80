// The sizes and settings of a READ model (spec/model.md sections 1-6):
// LLaVA-1.5 (LLaMA + CLIP + projector), SAM, text_hidden_fcs width, SasP,
// loss weights, LoRA and the special token ids. Presets for the released
// 7B / 13B models and a tiny model for tests and the synthetic quickstart;
// read() lets a YAML section pick a preset and override settings.
#pragma once
#include <string>

#include "model/llava_config.h"
#include "model/lora.h"
#include "model/losses.h"
#include "model/sam_config.h"
#include "model/sasp.h"

namespace rd {

class ConfigReader;

struct ReadModelConfig {
  LlavaConfig llava;            // llava.llm.vocab_size: the base checkpoint's vocabulary
  int64_t vocab_size = 32003;   // after adding [SEG], <im_start>, <im_end> (resize target)
  double new_token_init_std = 0.02;  // new embedding/lm_head rows ~ N(0, std)
  sam::SamConfig sam;
  int64_t out_dim = 256;        // text_hidden_fcs output = SAM prompt width
  int64_t seg_token_id = 32000;
  SaspConfig sasp;
  LossWeights loss;
  bool use_lora = true;
  LoraConfig lora;              // r 8, alpha 16, dropout 0.05, q_proj/v_proj
  bool gradient_checkpointing = true;
  // Parameter-name prefixes trained beyond the reference's set (see
  // ReadForCausalLMImpl::set_trainable), e.g. "model.visual_model.image_encoder."
  // when training from random initialisation, where frozen encoders would be
  // frozen noise. Empty for the real recipes.
  std::vector<std::string> extra_trainable;

  // READ-7B / -13B (LLaVA-1.5, CLIP ViT-L/14-336, SAM ViT-H). The 13B
  // evaluation recipe's SasP settings (down_sample 1, 60 points, t_pos 0.6)
  // are a SasP override, not a different preset.
  static ReadModelConfig read7b();
  static ReadModelConfig read13b();
  // LLaMA D 64 / 2 layers, CLIP 112 px (8x8 tokens), SAM 128 px; `vocab`
  // includes the three added tokens, which take its last three ids.
  static ReadModelConfig tiny(int64_t vocab = 1003);
  // "read7b" | "read13b" | "tiny".
  static ReadModelConfig preset(const std::string& name);

  // Keys: preset (default read7b), vocab_size (tiny: also sets the base
  // vocabulary to vocab_size - 3), seg_token_id, out_dim,
  // use_lora, gradient_checkpointing, new_token_init_std, lora {r, alpha,
  // dropout, target_modules}, sasp {...}, loss {...}, sam_preset (vit_h |
  // vit_l | vit_b).
  static ReadModelConfig read(ConfigReader& r);

  void validate(const std::string& source) const;
  int64_t num_image_tokens() const { return llava.vision.num_patches(); }
};

}  // namespace rd
