// CLIP vision tower configuration, read from a Hugging Face config.json that
// is either a CLIPVisionModel config (model_type "clip_vision_model") or a
// full CLIPModel config (model_type "clip", vision settings under
// "vision_config", or the legacy "vision_config_dict"). Missing fields take
// transformers' CLIPVisionConfig defaults.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace rd {

struct ClipVisionConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t num_channels = 3;
  int64_t image_size = 224;
  int64_t patch_size = 32;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";  // quick_gelu | gelu (erf) | gelu_pytorch_tanh / gelu_new

  int64_t grid() const { return image_size / patch_size; }
  int64_t num_patches() const { return grid() * grid(); }
  int64_t num_positions() const { return num_patches() + 1; }  // + CLS
  int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // CLIP ViT-L/14-336 (openai/clip-vit-large-patch14-336), LLaVA-1.5's tower.
  static ClipVisionConfig vit_l14_336();

  // `source` names the file for error messages. Validates sizes and the
  // activation name.
  static ClipVisionConfig from_json(const nlohmann::json& j, const std::string& source);
  // A config.json path, or a folder holding one.
  static ClipVisionConfig from_file(const std::string& path);
  // A CLIPVisionModel config.json (model_type clip_vision_model).
  nlohmann::json to_json() const;

  void validate(const std::string& source) const;
};

}  // namespace rd
