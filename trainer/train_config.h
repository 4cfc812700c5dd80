// The training configuration (configs/*.yaml), read strictly: unknown keys,
// wrong types and missing files are errors naming the key (common/config_reader.h).
#pragma once
#include <string>
#include <vector>

#include "common/config_reader.h"
#include "common/train_section.h"
#include "data/data_config.h"
#include "model/model_section.h"

namespace rd {

// ModelSection (the `model:` section) lives in model/model_section.h.
// DataSection (the `data:` section) lives in data/data_config.h.

struct OptimSection {
  double lr = 3e-4, weight_decay = 0.0, eps = 1e-8, grad_clip = 1.0;
  std::vector<double> betas{0.9, 0.95};
  std::string schedule = "warmup_decay";  // warmup_decay | constant | cosine
  int64_t warmup_steps = 100;
  int64_t zero_stage = 2;
  int64_t bucket_elements = 500000000;
};

// TrainSection (the `train:` section) lives in common/train_section.h.

struct TrainConfig {
  std::string path;  // the YAML file
  std::string yaml;  // its text with the --set overrides applied (checkpoints keep it)
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
