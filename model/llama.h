// LlamaForCausalLM with Hugging Face (transformers 4.31) conventions, as the
// fixtures' case.json "conventions" list them: RMSNorm in float32, rotate-half
// RoPE (dim i paired with i + head_dim/2), SiLU-gated MLP, causal + padding
// additive masks, untied lm_head, float32 logits. Submodules carry the HF
// names, so named_parameters() are exactly the checkpoint keys:
//   model.embed_tokens.weight, model.layers.N.self_attn.{q,k,v,o}_proj.weight,
//   model.layers.N.mlp.{gate,up,down}_proj.weight,
//   model.layers.N.{input_layernorm,post_attention_layernorm}.weight,
//   model.norm.weight, lm_head.weight
// (plus ....lora_A.weight / ....lora_B.weight once LoRA is applied).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "checkpoints/formats/state_dict.h"
#include "model/llama_config.h"
#include "model/lora.h"

namespace rd {

class LlamaRMSNormImpl : public torch::nn::Module {
 public:
  LlamaRMSNormImpl(int64_t dim, double eps);
  // weight * (x * rsqrt(mean(x^2) + eps)) with the statistics in float32,
  // the normed value cast back to x's dtype before the weight multiply.
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(LlamaRMSNorm);

// cos / sin of the rotary angles for given positions, [B, 1, T, head_dim]
// (broadcast over heads), computed in float32 and cast to `dtype`.
struct RotaryTables {
  torch::Tensor cos, sin;
};
RotaryTables rotary_tables(const torch::Tensor& position_ids, int64_t head_dim, double theta,
                           torch::Dtype dtype);
// x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x[half:], x[:half]).
torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& rope);
// 1 / theta^(arange(0, head_dim, 2) / head_dim) in float32 (HF's inv_freq).
torch::Tensor rotary_inv_freq(int64_t head_dim, double theta, const torch::Device& device);

// Past keys/values of every layer ([B, kv_heads, S, head_dim], after RoPE).
struct LlamaKVCache {
  std::vector<torch::Tensor> k, v;
  int64_t length() const { return k.empty() || !k[0].defined() ? 0 : k[0].size(2); }
  void clear() { k.clear(), v.clear(); }
};

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  explicit LlamaAttentionImpl(const LlamaConfig& c);
  // x [B, T, D]; mask additive [B, 1, T, S] (S = past + T); layer_cache
  // (k, v of this layer) is read and extended when given.
  torch::Tensor forward(const torch::Tensor& x, const RotaryTables& rope, const torch::Tensor& mask,
                        torch::Tensor* cache_k = nullptr, torch::Tensor* cache_v = nullptr);
  LoraLinear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(LlamaAttention);

class LlamaMLPImpl : public torch::nn::Module {
 public:
  explicit LlamaMLPImpl(const LlamaConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // down(silu(gate(x)) * up(x))
  LoraLinear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(LlamaMLP);

class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  explicit LlamaDecoderLayerImpl(const LlamaConfig& c);
  torch::Tensor forward(const torch::Tensor& h, const RotaryTables& rope, const torch::Tensor& mask,
                        torch::Tensor* cache_k = nullptr, torch::Tensor* cache_v = nullptr);
  LlamaRMSNorm input_layernorm{nullptr};
  LlamaAttention self_attn{nullptr};
  LlamaRMSNorm post_attention_layernorm{nullptr};
  LlamaMLP mlp{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

struct LlamaInputs {
  torch::Tensor input_ids;       // i64 [B, T]; or
  torch::Tensor inputs_embeds;   // [B, T, D] (the LLaVA splice); exactly one of the two
  torch::Tensor attention_mask;  // [B, past + T] bool/int, nonzero = attend; undefined: all
  torch::Tensor position_ids;    // [B or 1, T]; undefined: past + arange(T) (not from the mask)
  torch::Tensor labels;          // i64 [B, T], -100 ignored; defined: loss is computed
  bool output_hidden_states = false;
  bool compute_logits = true;
  LlamaKVCache* cache = nullptr;  // read and extended (inference; no checkpointing)
};

struct LlamaOutput {
  torch::Tensor logits;             // f32 [B, T, vocab]
  torch::Tensor last_hidden_state;  // [B, T, D], after the final RMSNorm
  torch::Tensor loss;               // f32 [] when labels were given
  // HF output_hidden_states: (embeddings, out of layer 0, ..., out of layer
  // n-2, norm(out of layer n-1)); the last one equals last_hidden_state.
  std::vector<torch::Tensor> hidden_states;
};

// Additive attention mask [B, 1, T, past + T] in `dtype`: 0 where a query
// may attend (key position <= past + query position and key not padding),
// finfo(dtype).min elsewhere. HF sums a causal and a padding mask (so a key
// masked twice gets -inf); rows with at least one visible key are identical.
// Rows with none (padding queries under left padding) attend to themselves
// only, a finite value independent of the sequence length (HF: a uniform
// average over every key); nothing downstream reads those rows.
torch::Tensor llama_attention_mask(const torch::Tensor& attention_mask, int64_t batch, int64_t q_len,
                                   int64_t past, torch::Dtype dtype, const torch::Device& device);

class LlamaModelImpl : public torch::nn::Module {
 public:
  explicit LlamaModelImpl(const LlamaConfig& c);
  // Fills last_hidden_state and (if asked) hidden_states.
  LlamaOutput forward(const LlamaInputs& in);
  torch::Tensor embed(const torch::Tensor& input_ids);

  const LlamaConfig& config() const { return config_; }
  // Recompute decoder layers in backward (training with grad only, not
  // with a KV cache), as HF's gradient_checkpointing_enable().
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool gradient_checkpointing() const { return checkpointing_; }
  LlamaDecoderLayer layer(size_t i) const { return layers_[i]; }
  size_t num_layers() const { return layers_.size(); }

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  LlamaRMSNorm norm{nullptr};

 private:
  friend class LlamaForCausalLMImpl;
  LlamaConfig config_;
  std::vector<LlamaDecoderLayer> layers_;
  bool checkpointing_ = false;
};
TORCH_MODULE(LlamaModel);

class LlamaForCausalLMImpl : public torch::nn::Module {
 public:
  explicit LlamaForCausalLMImpl(const LlamaConfig& c);
  LlamaOutput forward(const LlamaInputs& in);

  const LlamaConfig& config() const { return model->config(); }
  // Grows or shrinks the vocabulary: keeps the first rows of embed_tokens
  // and lm_head, new rows ~ N(0, std) (HF resize_token_embeddings with
  // initializer_range 0.02; READ: 32000 -> 32003). Call before adding LoRA.
  // Like HF 4.31, the resized embedding has no padding_idx any more.
  void resize_token_embeddings(int64_t new_vocab, double std = 0.02);

  LlamaModel model{nullptr};
  LoraLinear lm_head{nullptr};
};
TORCH_MODULE(LlamaForCausalLM);

// HF's shifted causal-LM loss: cross entropy (float32, mean) of
// logits[:, :-1] against labels[:, 1:], ignoring -100. Deliberate deviation:
// with no supervised token HF returns NaN (0/0); this returns 0 (with a
// graph to the logits) so one fully-masked micro-batch cannot poison
// training.
torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace rd
