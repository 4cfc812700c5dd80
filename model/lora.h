// LoRA (peft 0.4 semantics, spec/model.md section 6) on the LLM's Linear
// layers. Every projection of the LLaMA decoder is a LoraLinear: a bias-free
// Linear whose parameter is `weight` (so HF checkpoints load by name) and
// that can be given a low-rank adapter:
//     y = x W^T + (alpha / r) * lora_B(lora_A(dropout(x)))
// with parameters `<name>.lora_A.weight` [r, in] and `<name>.lora_B.weight`
// [out, r]; A ~ kaiming_uniform(a = sqrt(5)), B = 0 at init, so a fresh
// adapter leaves the output unchanged.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace rd {

struct LoraConfig {
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0.05;
  // peft 0.4 list semantics: a module is targeted when its full name ends
  // with an entry ("q_proj" or "model.layers.0.self_attn.q_proj").
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  // peft's plain-string target_modules: a regex that must match the whole
  // name. When non-empty it replaces target_modules.
  std::string target_regex;
  // READ's find_linear_layers: never target modules whose name contains one
  // of these (the vision tower, projector, SAM and text_hidden_fcs also have
  // q_proj / v_proj layers).
  std::vector<std::string> exclude = {"visual_model", "vision_tower", "mm_projector", "text_hidden_fcs"};

  double scaling() const { return alpha / static_cast<double>(r); }
  bool targets(const std::string& module_name) const;
  void validate(const std::string& source) const;
};

class LoraLinearImpl : public torch::nn::Module {
 public:
  // A bias-free Linear in -> out, initialised like torch.nn.Linear.
  LoraLinearImpl(int64_t in_features, int64_t out_features);

  torch::Tensor forward(const torch::Tensor& x);

  // Adds lora_A / lora_B (on the weight's device and dtype) and a dropout.
  // Re-enabling replaces the adapter with a fresh one.
  void enable_lora(int64_t r, double alpha, double dropout);
  bool has_lora() const { return !lora_A.is_empty(); }
  // (B @ A) * scaling, in the weight's dtype.
  torch::Tensor delta_weight() const;
  // W += delta (forward then skips the adapter) / W -= delta.
  void merge();
  void unmerge();
  bool merged() const { return merged_; }

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  int64_t r() const { return r_; }
  double scaling() const { return scaling_; }

  // Resizes the output dimension (rows) keeping the first min(old, new) rows;
  // new rows ~ N(0, std). For lm_head when the vocabulary grows.
  void resize_out_features(int64_t out, double std);

  torch::Tensor weight;  // [out, in]
  torch::nn::Linear lora_A{nullptr};
  torch::nn::Linear lora_B{nullptr};
  torch::nn::Dropout lora_dropout{nullptr};

 private:
  int64_t in_, out_, r_ = 0;
  double scaling_ = 0;
  bool merged_ = false;
};
TORCH_MODULE(LoraLinear);

// Gives every LoraLinear under `root` whose full name the config targets an
// adapter; returns the targeted names (sorted). Fails when nothing matches.
std::vector<std::string> apply_lora(torch::nn::Module& root, const LoraConfig& config);

// Every LoraLinear under `root` that has an adapter, by full module name.
std::vector<std::pair<std::string, LoraLinear>> lora_layers(torch::nn::Module& root);

void merge_lora(torch::nn::Module& root);
void unmerge_lora(torch::nn::Module& root);

// True for parameter names of adapters ("....lora_A.weight", "....lora_B.weight").
bool is_lora_parameter(const std::string& name);

// requires_grad = true for LoRA parameters and for parameters whose name
// starts with one of `also_trainable` (e.g. "model.embed_tokens.", "lm_head."),
// false for everything else. Returns the number of trainable elements.
int64_t set_lora_trainable(torch::nn::Module& root, const std::vector<std::string>& also_trainable = {});

}  // namespace rd
