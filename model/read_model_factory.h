// From a training config's model section (model/model_section.h) to the
// READ model: shared by read_trainer and read_ckpt (import, export-hf), so
// both build exactly the same network from the same YAML.
#pragma once
#include "model/model_section.h"
#include "model/read_model.h"
#include "model/tokenizer.h"

namespace rd {

ReadModelConfig read_model_config(const ModelSection& m, const Tokenizer& tokenizer);
// model.init random: fresh weights (from the current torch seed); pretrained:
// load_read_model from llava_dir (a LLaVA-1.5 folder + sam_checkpoint, or a
// READ HF folder such as `read_ckpt import` / `export-hf` write, without
// sam_checkpoint) and vision_tower_dir.
ReadForCausalLM make_read_model(const ModelSection& m, const Tokenizer& tokenizer);

}  // namespace rd
