// The READ model a training checkpoint describes, rebuilt the way
// read_trainer resumes: the config (the checkpoint's config.yaml, or
// another YAML) gives the model section (model/model_section.h) and
// train.seed (common/train_section.h); the model is built
// with torch::manual_seed(train.seed) + make_read_model (as Trainer's
// constructor does: random init re-creates the same frozen weights,
// pretrained loads them from model.llava_dir / vision_tower_dir /
// sam_checkpoint), then the checkpoint's trainable weights are loaded over
// it (every parameter the model trains, model.extra_trainable included, must
// be there; frozen ones stay from init).
// The tokenizer is the checkpoint's tokenizer/ copy when present.
#pragma once
#include <string>

#include "checkpoints/formats/state_dict.h"
#include "common/train_section.h"
#include "model/model_section.h"
#include "model/read_model.h"
#include "model/tokenizer.h"

namespace rd {

struct CheckpointModel {
  std::string step_dir;       // the resolved step_<N> directory
  ModelSection model_config;  // tokenizer_dir = the tokenizer used
  TrainSection train_config;
  Tokenizer tokenizer;
  ReadForCausalLM model{nullptr};
};

// `dir`: a checkpoint root (with `latest`) or a step directory.
// `config_yaml`: "" = <step dir>/config.yaml. Paths in the model section must
// exist as written (relative to the working directory), else an error names
// the key.
// Loads a checkpoint's trainable weights (trainable.safetensors, named
// `source` in errors) into `model`: every parameter the model trains must be
// there with its shape; frozen ones keep their init. Trainer::resume and
// load_checkpoint_model both use it, so they cannot drift apart.
void load_trainable_weights(ReadForCausalLMImpl& model, const StateDict& trainable, const std::string& source);

CheckpointModel load_checkpoint_model(const std::string& dir, const std::string& config_yaml = "");

}  // namespace rd
