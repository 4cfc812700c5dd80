// LLaMA decoder configuration, read from a Hugging Face config.json
// (LlamaConfig, or a LLaVA config whose LLM fields sit at the top level).
// Missing fields take transformers 4.31 LlamaConfig defaults; rope_theta
// (added to LlamaConfig later) defaults to 10000 when absent.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace rd {

struct LlamaConfig {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // = num_attention_heads when absent/null
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  double initializer_range = 0.02;
  int64_t pad_token_id = -1;  // -1: none (null in config.json)
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // The LLMs of LLaVA-1.5-7B / -13B (Vicuna v1.5, spec/model.md section 1),
  // vocabulary before READ's three added tokens.
  static LlamaConfig llama7b();
  static LlamaConfig llama13b();
  // A few-layer random model for tests and the synthetic quickstart.
  static LlamaConfig tiny(int64_t vocab = 128, int64_t hidden = 64, int64_t layers = 2,
                          int64_t heads = 4);

  // `source` names the file for messages. Rejects what the decoder does not
  // implement (hidden_act other than silu, rope_scaling, tied embeddings,
  // attention/MLP biases) instead of silently computing something else.
  static LlamaConfig from_json(const nlohmann::json& j, const std::string& source);
  // A config.json path, or a folder holding one.
  static LlamaConfig from_file(const std::string& path);
  nlohmann::json to_json() const;  // the HF field names

  void validate(const std::string& source) const;
  // Parameter count of LlamaForCausalLM (embeddings, layers, norm, lm_head).
  int64_t num_parameters() const;
};

}  // namespace rd
