// The `train:` section of a training configuration (configs/*.yaml): batch
// sizes, schedule length, seed, output, logging and checkpoint cadence. Read
// strictly (common/config_reader.h). The trainer's TrainConfig and read_ckpt
// (train.seed, with which the trainer builds its initial model) share it.
#pragma once
#include <string>
#include <vector>

#include "common/config_reader.h"

namespace rd {

struct TrainSection {
  int64_t micro_batch_size = 2, grad_accumulation = 10, steps_per_epoch = 500, epochs = 20;
  int64_t seed = 42;
  std::string output_dir;
  int64_t log_every = 1, val_every = 500, ckpt_every = 500, keep_last = 3;
  int64_t max_steps = 0;  // > 0 stops early (tests, smoke runs)
  // Also keep the checkpoint of the best validation gIoU in <output_dir>/best.
  bool save_best = true;

  // Reads the `train:` mapping; a relative output_dir whose parent does not
  // exist is taken relative to the config file's folder.
  static TrainSection read(ConfigReader r, const std::string& config_path);
  // Loads only the `train:` section of a YAML file (others ignored).
  static TrainSection load(const std::string& yaml_path, const std::vector<std::string>& overrides = {});
};

}  // namespace rd
