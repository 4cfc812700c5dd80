// The training configuration (configs/*.yaml), read strictly: unknown keys,
// wrong types and missing files are errors naming the key (common/config_reader.h).
#pragma once
#include <string>
#include <vector>

#include "common/config_reader.h"
#include "data/data_config.h"

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
  std::string llava_dir, vision_tower_dir, sam_checkpoint;  // pretrained
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
};

// DataSection (the `data:` section) lives in data/data_config.h.

struct OptimSection {
  double lr = 3e-4, weight_decay = 0.0, eps = 1e-8, grad_clip = 1.0;
  std::vector<double> betas{0.9, 0.95};
  std::string schedule = "warmup_decay";  // warmup_decay | constant | cosine
  int64_t warmup_steps = 100;
  int64_t zero_stage = 2;
  int64_t bucket_elements = 500000000;
};

struct TrainSection {
  int64_t micro_batch_size = 2, grad_accumulation = 10, steps_per_epoch = 500, epochs = 20;
  int64_t seed = 42;
  std::string output_dir;
  int64_t log_every = 1, val_every = 500, ckpt_every = 500, keep_last = 3;
  int64_t max_steps = 0;  // > 0 stops early (tests, smoke runs)
};

struct TrainConfig {
  std::string path;  // the YAML file
  ModelSection model;
  DataSection data;
  OptimSection optim;
  TrainSection train;
  std::string resolved;  // every value read, for the start-up print

  int64_t total_steps() const { return train.max_steps > 0 ? train.max_steps : train.epochs * train.steps_per_epoch; }
  int64_t samples_per_epoch(int world) const {
    return train.micro_batch_size * train.grad_accumulation * train.steps_per_epoch * world;
  }

  // Loads, applies "a.b=value" overrides, validates values and (unless
  // check_paths is false, for --plan) that every named path exists.
  static TrainConfig load(const std::string& path, const std::vector<std::string>& overrides = {},
                          bool check_paths = true);
};

}  // namespace rd
