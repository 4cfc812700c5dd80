#include "model/llava.h"

#include "model/frozen.h"

#include "checkpoints/formats/load_state_dict.h"
#include "common/error.h"

namespace rd {

bool is_vision_tower_key(const std::string& key) { return key.find("vision_tower") != std::string::npos; }

LlavaForCausalLMImpl::LlavaForCausalLMImpl(const LlavaConfig& config) : config_(config) {
  config_.validate("LlavaConfig");
  llm = LlamaForCausalLM(config_.llm);
  mm_projector = MmProjector(config_.mm_projector_type, config_.mm_hidden_size, config_.llm.hidden_size);
  vision_tower = ClipVisionTower(config_.vision);
  // The Python tree: LlavaLlamaForCausalLM.model (LlavaLlamaModel = LlamaModel
  // + mm_projector + vision_tower) and .lm_head.
  inner_ = std::make_shared<torch::nn::Module>("LlavaLlamaModel");
  inner_->register_module("embed_tokens", llm->model->embed_tokens);
  inner_->register_module("layers", llm->model->layers);
  inner_->register_module("norm", llm->model->norm);
  inner_->register_module("mm_projector", mm_projector);
  inner_->register_module("vision_tower", vision_tower);
  register_module("model", inner_);
  register_module("lm_head", llm->lm_head);
  freeze_vision();
}

void LlavaForCausalLMImpl::freeze_vision() {
  for (auto& p : vision_tower->parameters()) p.set_requires_grad(false);
  for (auto& p : mm_projector->parameters()) p.set_requires_grad(false);
}

int64_t LlavaForCausalLMImpl::num_image_tokens() const {
  return config_.vision.num_patches() + (config_.mm_vision_select_feature == "cls_patch" ? 1 : 0);
}

torch::Tensor LlavaForCausalLMImpl::encode_images(const torch::Tensor& images_clip) {
  // Tower and projector are frozen in READ (tune_mm_mlp_adapter False): no
  // autograd unless a config trains them (ReadModelConfig::extra_trainable).
  torch::AutoGradMode grad(torch::GradMode::is_enabled() &&
                           (any_requires_grad(*vision_tower) || any_requires_grad(*mm_projector)));
  torch::Tensor f = clip()->features(images_clip, config_.mm_vision_select_layer, config_.mm_vision_select_feature);
  return mm_projector(f);
}

torch::Tensor LlavaForCausalLMImpl::embed_tokens(const torch::Tensor& input_ids) {
  return llm->model->embed(input_ids.masked_fill(input_ids.eq(kImageTokenIndex), 0));
}

LlavaOutput LlavaForCausalLMImpl::forward(const LlavaInputs& in) {
  LlavaOutput out;
  out.spliced = splice_image_features(in.input_ids, embed_tokens(in.input_ids), in.image_features,
                                      in.attention_mask, in.labels);
  LlamaInputs li;
  li.inputs_embeds = out.spliced.inputs_embeds;
  li.attention_mask = out.spliced.attention_mask;
  li.position_ids = out.spliced.position_ids;
  li.labels = out.spliced.labels;
  li.output_hidden_states = in.output_hidden_states;
  li.compute_logits = in.compute_logits;
  out.llm = llm->forward(li);
  return out;
}

LoadReport LlavaForCausalLMImpl::load_llava_weights(const StateDict& sd,
                                                    const std::vector<std::string>& foreign_prefixes) {
  bool has_tower = false;
  for (const auto& kv : sd)
    if (kv.first.rfind("model.vision_tower.", 0) == 0) has_tower = true;
  LoadOptions opt;
  opt.optional = [has_tower, foreign_prefixes](const std::string& name) {
    // LoRA layers come from adapters; the tower from its own folder unless
    // this (unmerged) checkpoint carries it; the caller loads the rest.
    for (const auto& p : foreign_prefixes)
      if (name.rfind(p, 0) == 0) return true;
    return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos ||
           (!has_tower && name.rfind("model.vision_tower.", 0) == 0);
  };
  opt.ignore = [foreign_prefixes](const std::string& key) {
    static const std::string inv_freq = "rotary_emb.inv_freq";  // persistent buffer in transformers <= 4.30
    if (key.size() >= inv_freq.size() && key.compare(key.size() - inv_freq.size(), inv_freq.size(), inv_freq) == 0)
      return true;
    if (key == "model.vision_tower.vision_tower.vision_model.embeddings.position_ids") return true;
    for (const auto& p : foreign_prefixes)
      if (key.rfind(p, 0) == 0) return true;
    return false;
  };
  return load_into(*this, sd, opt);
}

}  // namespace rd

namespace rd {

LlavaForCausalLM load_llava_folder(const std::string& model_dir, const std::string& clip_dir,
                                   const std::vector<std::string>& foreign_prefixes) {
  LlavaConfig cfg = LlavaConfig::from_file(model_dir);
  const std::string tower_dir = cfg.vision_tower_dir(model_dir, clip_dir);
  cfg.vision = ClipVisionConfig::from_file(tower_dir);
  LlavaForCausalLM m(cfg);
  StateDict sd = load_state_dict(model_dir);
  bool has_tower = false;
  for (const auto& kv : sd) has_tower |= kv.first.rfind("model.vision_tower.", 0) == 0;
  m->load_llava_weights(sd, foreign_prefixes).check("LLaVA", model_dir);
  sd.clear();
  if (!has_tower) m->clip()->load(load_state_dict(tower_dir)).check("CLIP vision tower", tower_dir);
  return m;
}

}  // namespace rd
