// PEFT (peft 0.4) LoRA adapters on disk: adapter_config.json +
// adapter_model.safetensors (or adapter_model.bin, torch.save of a plain
// dict). Keys are 'base_model.model.' + module name + '.lora_A.weight'
// [r, in] / '.lora_B.weight' [out, r]; our module tree uses the module names
// of the wrapped model, so 'base_model.model.model.layers.0.self_attn.q_proj.
// lora_A.weight' is our 'model.layers.0.self_attn.q_proj.lora_A.weight'.
// DeepSpeed/zero_to_fp32 state dicts keep the adapter name
// ('...lora_A.default.weight'); both spellings are read.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "checkpoints/formats/state_dict.h"
#include "model/lora.h"

namespace rd {

// adapter_config.json (a path or the folder holding it). r, lora_alpha,
// lora_dropout, target_modules (list: suffix match; string: regex). Rejects
// what we do not implement (peft_type other than LORA, bias other than
// "none", fan_in_fan_out, layers_to_transform, modules_to_save).
LoraConfig read_peft_adapter_config(const std::string& path);

// Adapter weight keys ("base_model.model.X.lora_A[.default].weight") ->
// our parameter names ("X.lora_A.weight"); other keys are an error naming them.
StateDict peft_to_module_names(const StateDict& adapter, const std::string& source);
StateDict module_to_peft_names(const StateDict& ours);

// The adapter weights of `folder` under our names (adapter_model.safetensors
// preferred, else adapter_model.bin).
StateDict read_peft_adapter_weights(const std::string& folder);

// Applies the folder's LoRA config to `root` (apply_lora) and loads its
// weights. Every targeted layer must get both A and B with matching shapes,
// and every adapter key must land on a targeted layer; violations are
// reported by name. Returns the config read.
LoraConfig load_peft_adapter(torch::nn::Module& root, const std::string& folder);

// Writes adapter_config.json and adapter_model.safetensors (PEFT names) with
// every LoRA parameter of `root`, in their current dtype.
void save_peft_adapter(const std::string& folder, torch::nn::Module& root, const LoraConfig& config,
                       const std::string& base_model_name_or_path = "");
// The same from LoRA parameters under our names (e.g. a checkpoint's
// trainable weights filtered by is_lora_parameter).
void save_peft_adapter(const std::string& folder, const StateDict& lora_params, const LoraConfig& config,
                       const std::string& base_model_name_or_path = "");

}  // namespace rd
