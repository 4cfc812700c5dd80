// Loading Hugging Face LLaMA weights into LlamaForCausalLM by name. Every
// model parameter must be found with the right shape and every checkpoint key
// must be used: missing, unexpected and mismatched keys are reported by name
// (nothing is silently left at its random init).
#pragma once
#include <string>
#include <vector>

#include "checkpoints/formats/state_dict.h"
#include "model/llama.h"
#include "model/weight_loading.h"

namespace rd {

struct LlamaLoadOptions {
  // Keys that are not LLaMA keys (a LLaVA/READ checkpoint also holds
  // model.mm_projector.*, model.visual_model.*, ...) are ignored instead of
  // reported as unexpected. LLaMA-looking keys the model lacks
  // (model.layers.99...., model.foo) are still reported.
  bool ignore_non_llama_keys = false;
  // LoRA parameters of the model may be absent (loading base weights into a
  // model that already has adapters).
  bool lora_optional = true;
  // Throw rd::Error naming every bad key unless the report is ok()
  // (LoadReport::check).
  bool strict = true;
};

// Copies sd into the model (no autograd; floating tensors are converted to
// the parameter's dtype). `model.layers.N.self_attn.rotary_emb.inv_freq`
// buffers (persistent in transformers <= 4.30 checkpoints) are not
// parameters: they are checked against 1/theta^(2i/head_dim) (an error names
// the key if they differ, e.g. a scaled-RoPE checkpoint) and skipped.
LoadReport load_llama_weights(LlamaForCausalLMImpl& model, const StateDict& sd,
                              const std::string& source, const LlamaLoadOptions& options = {});

// The same from a checkpoint on disk (any layout rd::load_state_dict reads:
// a .safetensors/.bin file or a HF folder, sharded or not), one shard in
// memory at a time.
LoadReport load_llama_checkpoint(LlamaForCausalLMImpl& model, const std::string& path,
                                 const LlamaLoadOptions& options = {});

// A HF LLaMA folder: config.json + weights, parameters in `dtype`.
LlamaForCausalLM llama_from_pretrained(const std::string& folder, torch::Dtype dtype = torch::kFloat32,
                                       const LlamaLoadOptions& options = {});

}  // namespace rd
