// LLaVA-1.5 (LlavaLlamaForCausalLM) as READ uses it: frozen CLIP vision tower
// -> frozen mlp2x_gelu projector -> features spliced at the -200 slot of every
// row -> LLaMA (+ LoRA).
//
// Parameter names are those of the Python module tree, so checkpoints load
// by name: model.embed_tokens / model.layers.N / model.norm / lm_head (the
// LLaMA), model.mm_projector.{0,2}, model.vision_tower.vision_tower.
// vision_model.* (LLaVA's CLIPVisionTower wraps a CLIPVisionModel; READ's
// merged checkpoints drop these keys and load the tower from its own folder).
// The LLaMA's own submodules are registered under this tree (shared, not
// copied), so LoRA layers added to the LLaMA appear here too.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "model/clip_vision.h"
#include "model/llama.h"
#include "model/llava_config.h"
#include "model/llava_splice.h"
#include "model/mm_projector.h"
#include "model/weight_loading.h"

namespace rd {

// LLaVA's CLIPVisionTower: one child "vision_tower" (the CLIPVisionModel).
class ClipVisionTowerImpl : public torch::nn::Module {
 public:
  explicit ClipVisionTowerImpl(const ClipVisionConfig& c) {
    vision_tower = register_module("vision_tower", ClipVisionModel(c));
  }
  ClipVisionModel vision_tower{nullptr};
};
TORCH_MODULE(ClipVisionTower);

struct LlavaInputs {
  torch::Tensor input_ids;       // i64 [N, L], one -200 per row
  torch::Tensor attention_mask;  // bool [N, L]
  torch::Tensor labels;          // i64 [N, L] or undefined (no loss)
  torch::Tensor image_features;  // [N, P, D] projected features of each row's image
  bool output_hidden_states = false;
  bool compute_logits = true;
};

struct LlavaOutput {
  SplicedBatch spliced;
  LlamaOutput llm;  // logits [N, T, V], last_hidden_state [N, T, D] (after the final norm), loss
};

class LlavaForCausalLMImpl : public torch::nn::Module {
 public:
  explicit LlavaForCausalLMImpl(const LlavaConfig& config);

  // CLIP feature (select layer/feature) -> projector, for [B, 3, S, S]
  // images: [B, P, D]. Both are frozen and run without autograd.
  torch::Tensor encode_images(const torch::Tensor& images_clip);
  // embed_tokens of input_ids with the -200 slots read as token 0 (they are
  // replaced by the splice).
  torch::Tensor embed_tokens(const torch::Tensor& input_ids);
  LlavaOutput forward(const LlavaInputs& in);

  // Freezes the vision tower and projector (requires_grad false).
  void freeze_vision();

  // Loads an HF LLaVA/READ weight dict: the LLaMA keys, model.mm_projector.*
  // and, if present, model.vision_tower.vision_tower.vision_model.*. Keys
  // under model.* that none of these claim are returned as unexpected unless
  // `foreign_prefixes` (e.g. "model.visual_model.") lists them; module
  // parameters under those prefixes are left to the caller (not missing).
  LoadReport load_llava_weights(const StateDict& sd, const std::vector<std::string>& foreign_prefixes = {});

  const LlavaConfig& config() const { return config_; }
  int64_t num_image_tokens() const;

  LlamaForCausalLM llm{nullptr};            // not registered itself; its parts are (see above)
  torch::nn::Module* inner() { return inner_.get(); }  // the "model" container
  MmProjector mm_projector{nullptr};
  ClipVisionTower vision_tower{nullptr};
  ClipVisionModel clip() const { return vision_tower->vision_tower; }

 protected:
  std::shared_ptr<torch::nn::Module> inner_;
  LlavaConfig config_;
};
TORCH_MODULE(LlavaForCausalLM);

// True for keys of LLaVA's vision tower (READ's merge drops them).
bool is_vision_tower_key(const std::string& key);

}  // namespace rd

namespace rd {

// A LLaVA-1.5 HF folder (config.json + weights in any layout
// rd::load_state_dict reads) with its CLIP folder (`clip_dir`, default: the
// config's mm_vision_tower relative to the folder). Every missing,
// unexpected or mismatched key is reported by name; keys under
// `foreign_prefixes` are left for the caller.
LlavaForCausalLM load_llava_folder(const std::string& model_dir, const std::string& clip_dir = "",
                                   const std::vector<std::string>& foreign_prefixes = {});

}  // namespace rd
