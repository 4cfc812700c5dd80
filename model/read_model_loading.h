// Building a READ model from the weight files found in the wild
// (spec/model.md section 8):
//  - training from scratch: a LLaVA-1.5 HF folder (vocabulary 32000, resized
//    to 32003 with new rows ~ N(0, 0.02)), the CLIP folder (a full CLIPModel
//    checkpoint; only vision_model.* is used), SAM's .pth, fresh
//    text_hidden_fcs, fresh LoRA;
//  - a READ HF checkpoint (model.visual_model.*, model.text_hidden_fcs.*, no
//    vision tower keys) + the CLIP folder;
//  - optionally a PEFT adapter folder (adapter_config.json + weights).
// Every missing, unexpected or shape-mismatched key is reported by name.
#pragma once
#include <string>

#include "model/read_model.h"

namespace rd {

struct ReadWeightSources {
  std::string model_dir;     // READ HF checkpoint, or a LLaVA-1.5 folder
  std::string vision_tower;  // CLIP folder; "" = config.json's mm_vision_tower relative to model_dir
  std::string sam;           // SAM weights (sam_vit_h_4b8939.pth); only with a LLaVA folder
  std::string adapter;       // PEFT adapter folder; "" = fresh LoRA (when config.use_lora)
};

// `config` gives the parts config.json does not hold (SAM, SasP, losses,
// LoRA, target vocabulary, [SEG] id); the LLaMA/CLIP/projector sizes come
// from the folders (out_dim too when config.json has it).
ReadForCausalLM load_read_model(const ReadModelConfig& config, const ReadWeightSources& sources);

// A READ model with fresh weights everywhere (tests, synthetic quickstart):
// LoRA applied when config.use_lora.
ReadForCausalLM build_read_model(const ReadModelConfig& config);

}  // namespace rd
