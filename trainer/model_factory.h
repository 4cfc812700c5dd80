// From the training config to the objects the loop uses: the READ model
// (random init or the released weights) and the loader configuration.
#pragma once
#include "data/train_loader.h"
#include "model/read_model.h"
#include "model/tokenizer.h"
#include "trainer/train_config.h"

namespace rd {

ReadModelConfig read_model_config(const ModelSection& m, const Tokenizer& tokenizer);
ReadForCausalLM make_read_model(const ModelSection& m, const Tokenizer& tokenizer);
TrainLoaderConfig train_loader_config(const TrainConfig& c, int rank, int world, const ReadModelConfig& model);

}  // namespace rd
