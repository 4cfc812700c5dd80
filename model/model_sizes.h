// The sizes of the three networks a TrainConfig describes: read from the
// pretrained folders' config.json when they are present, else the released
// presets named by the config (LLaVA-1.5 7B/13B by the folder name, CLIP
// ViT-L/14-336, SAM by sam.variant), or the random-init sizes.
#pragma once
#include "model/clip_config.h"
#include "model/llama_config.h"
#include "model/sam_config.h"
#include "model/model_section.h"

namespace rd {

struct ModelSizes {
  LlamaConfig llm;  // vocab_size includes READ's three added tokens
  ClipVisionConfig clip;
  sam::SamConfig sam;
};

ModelSizes model_sizes(const ModelSection& m);

}  // namespace rd
