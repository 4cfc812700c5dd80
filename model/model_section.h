// The `model:` section of a training configuration (configs/*.yaml), read
// strictly (common/config_reader.h): unknown keys, wrong types and (unless
// told otherwise) missing files are errors naming the key. The trainer's
// TrainConfig and read_ckpt (import, export-hf) share this one parser;
// model/read_model_factory.h builds the model from it.
#pragma once
#include <string>
#include <vector>

#include "common/config_reader.h"

namespace rd {

struct LlmSection {  // random init only: sizes of a from-scratch LLaMA
  int64_t hidden_size = 64, intermediate_size = 172, num_layers = 2, num_heads = 4;
  double rms_norm_eps = 1e-6;
};

struct VisionSection {  // random init only: a from-scratch CLIP vision tower
  int64_t image_size = 56, patch_size = 14, hidden_size = 48, num_layers = 3, num_heads = 4,
          intermediate_size = 192;
};

struct SamSection {
  std::string variant = "vit_h";  // vit_h | vit_l | vit_b | custom (sizes below)
  int64_t image_size = 1024, embed_dim = 1280, depth = 32, num_heads = 16, window_size = 14;
  std::vector<int> global_attn_indexes{7, 15, 23, 31};
  int64_t prompt_embed_dim = 256, decoder_mlp_dim = 2048, decoder_num_heads = 8;
  int64_t iou_head_hidden_dim = 0;  // 0: prompt_embed_dim (as every released SAM)
};

struct LoraSection {
  int64_t r = 8;
  double alpha = 16, dropout = 0.05;
  std::vector<std::string> target_modules{"q_proj", "v_proj"};
};

struct SaspSection {
  int64_t num_points = 30, down_sample = 2, target_size = 336;
  double t_pos = 0.8, t_neg = 0.2, paper_eps = 0.5;
  std::string variant = "code";  // code (released checkpoints) | paper
};

struct LossSection {
  double ce_weight = 1.0, bce_weight = 2.0, dice_weight = 0.5;
};

struct ModelSection {
  std::string init = "pretrained";  // pretrained | random
  // pretrained: llava_dir is a LLaVA-1.5 folder (+ sam_checkpoint, SAM's .pth)
  // or a READ HF folder such as read_ckpt import / export-hf write (no
  // sam_checkpoint: it holds SAM); vision_tower_dir the CLIP folder.
  std::string llava_dir, vision_tower_dir, sam_checkpoint;
  std::string tokenizer_dir;
  LlmSection llm;
  VisionSection vision;
  SamSection sam;
  LoraSection lora;
  SaspSection sasp;
  LossSection loss;
  int64_t out_dim = 256;
  int64_t model_max_length = 2048;
  std::string precision = "bf16";  // bf16 | fp32
  bool gradient_checkpointing = true;
  // Parameter-name prefixes trained beyond the reference's set (random init:
  // the encoders would otherwise stay frozen noise). Empty for the recipes.
  std::vector<std::string> extra_trainable;

  // Reads the `model:` mapping of `r`'s YAML; paths (llava_dir,
  // vision_tower_dir, sam_checkpoint, tokenizer_dir) are checked to exist
  // unless check_paths is false (the trainer's --plan, read_ckpt).
  static ModelSection read(ConfigReader r, bool check_paths = true);
  // Loads only the `model:` section of a YAML file: other top-level sections
  // are ignored, unknown keys inside `model:` are errors.
  static ModelSection load(const std::string& yaml_path, const std::vector<std::string>& overrides = {},
                           bool check_paths = true);
};

}  // namespace rd
