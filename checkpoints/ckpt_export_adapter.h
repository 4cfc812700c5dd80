// read_ckpt export-adapter DIR --out FOLDER: a training checkpoint's LoRA
// weights as a PEFT adapter (adapter_config.json + adapter_model.safetensors,
// keys 'base_model.model.' + name + '.lora_A.weight' / '.lora_B.weight'; see
// model/peft_adapter.h) and every other trainable weight (embed_tokens,
// lm_head, text_hidden_fcs, SAM mask decoder, ...) under our parameter names
// in FOLDER/non_lora_trainables.safetensors (the reference saves the same
// set as non_lora_trainables.bin).
// LoRA settings: r from the lora_A shapes; alpha, dropout and target_modules
// from the checkpoint's config.yaml (model.lora), else the flags/defaults;
// target_modules default to the targeted modules' last name components.
#pragma once
#include <string>

#include "checkpoints/ckpt_cli.h"
#include "model/lora.h"

namespace rd {

struct ExportedAdapter {
  LoraConfig config;
  size_t lora_tensors = 0, other_tensors = 0;
};

ExportedAdapter export_adapter(const std::string& dir, const std::string& out_folder,
                               const std::string& base_model_name_or_path = "");

extern const CkptCommand kCkptExportAdapter;

}  // namespace rd
