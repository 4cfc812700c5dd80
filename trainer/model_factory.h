// From the training config to the objects the loop uses: the READ model
// (model/read_model_factory.h, shared with read_ckpt) and the loader
// configuration.
#pragma once
#include "data/train_loader.h"
#include "model/read_model_factory.h"
#include "trainer/train_config.h"

namespace rd {

// The loader's view of the tokenizer (data/ does not know model/).
TextEncoder text_encoder(const Tokenizer& tokenizer);

TrainLoaderConfig train_loader_config(const TrainConfig& c, int rank, int world, const ReadModelConfig& model);

}  // namespace rd
