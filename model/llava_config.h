// LLaVA-1.5 configuration (LlavaLlamaForCausalLM's config.json: the LLaMA
// fields at the top level plus the mm_* fields), with the vision tower's
// configuration read from its own folder (mm_vision_tower).
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "model/clip_config.h"
#include "model/llama_config.h"

namespace rd {

struct LlavaConfig {
  LlamaConfig llm;
  ClipVisionConfig vision;
  int64_t mm_hidden_size = 1024;                // = vision.hidden_size
  std::string mm_projector_type = "mlp2x_gelu";
  int64_t mm_vision_select_layer = -2;
  std::string mm_vision_select_feature = "patch";
  std::string mm_vision_tower;                  // as written in config.json (hub id or path)
  bool mm_use_im_start_end = true;

  // LLaVA-1.5-7B/13B with CLIP ViT-L/14-336 (vocabulary before READ's additions).
  static LlavaConfig llava15_7b();
  static LlavaConfig llava15_13b();

  // The LLaVA fields of config.json; the vision config is left at its
  // default (set it from the tower's folder). Rejects a projector or select
  // feature we do not implement.
  static LlavaConfig from_json(const nlohmann::json& j, const std::string& source);
  static LlavaConfig from_file(const std::string& path);  // config.json or its folder
  // config.json of an LlavaLlamaForCausalLM: the LLaMA fields (vocab_size as
  // llm.vocab_size) and the mm_* fields; the vision tower is not included.
  nlohmann::json to_json() const;

  // Where the vision tower folder is: `override_dir` if given, else
  // mm_vision_tower resolved relative to `model_dir` when that exists.
  std::string vision_tower_dir(const std::string& model_dir, const std::string& override_dir = "") const;

  void validate(const std::string& source) const;
};

}  // namespace rd
