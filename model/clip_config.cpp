#include "model/clip_config.h"

#include "checkpoints/formats/json_file.h"
#include "common/error.h"

namespace rd {

ClipVisionConfig ClipVisionConfig::vit_l14_336() {
  ClipVisionConfig c;
  c.hidden_size = 1024;
  c.intermediate_size = 4096;
  c.num_hidden_layers = 24;
  c.num_attention_heads = 16;
  c.image_size = 336;
  c.patch_size = 14;
  return c;
}

ClipVisionConfig ClipVisionConfig::from_json(const nlohmann::json& root, const std::string& source) {
  READ_CHECK(root.is_object(), source, ": not a JSON object");
  const nlohmann::json* v = &root;
  std::string model_type = root.value("model_type", "");
  if (root.contains("vision_config") && root["vision_config"].is_object()) {
    v = &root["vision_config"];
  } else if (root.contains("vision_config_dict") && root["vision_config_dict"].is_object()) {
    v = &root["vision_config_dict"];  // configs written before transformers 4.x's vision_config
  } else {
    READ_CHECK(model_type.empty() || model_type == "clip_vision_model", source,
               ": model_type '", model_type, "' is neither clip_vision_model nor a CLIP config with vision_config");
  }
  ClipVisionConfig c;
  read_json_field(*v, "hidden_size", c.hidden_size, source);
  read_json_field(*v, "intermediate_size", c.intermediate_size, source);
  read_json_field(*v, "num_hidden_layers", c.num_hidden_layers, source);
  read_json_field(*v, "num_attention_heads", c.num_attention_heads, source);
  read_json_field(*v, "num_channels", c.num_channels, source);
  read_json_field(*v, "image_size", c.image_size, source);
  read_json_field(*v, "patch_size", c.patch_size, source);
  read_json_field(*v, "layer_norm_eps", c.layer_norm_eps, source);
  read_json_field(*v, "hidden_act", c.hidden_act, source);
  c.validate(source);
  return c;
}

ClipVisionConfig ClipVisionConfig::from_file(const std::string& path) {
  const std::string file = json_file_in(path, "config.json");
  return from_json(read_json_file(file), file);
}

nlohmann::json ClipVisionConfig::to_json() const {
  return {{"architectures", {"CLIPVisionModel"}},
          {"model_type", "clip_vision_model"},
          {"hidden_size", hidden_size},
          {"intermediate_size", intermediate_size},
          {"num_hidden_layers", num_hidden_layers},
          {"num_attention_heads", num_attention_heads},
          {"num_channels", num_channels},
          {"image_size", image_size},
          {"patch_size", patch_size},
          {"layer_norm_eps", layer_norm_eps},
          {"hidden_act", hidden_act}};
}

void ClipVisionConfig::validate(const std::string& source) const {
  READ_CHECK(hidden_size > 0 && intermediate_size > 0 && num_hidden_layers > 0 &&
                 num_attention_heads > 0 && num_channels > 0 && image_size > 0 && patch_size > 0,
             source, ": CLIP vision sizes must be positive");
  READ_CHECK(hidden_size % num_attention_heads == 0, source, ": hidden_size ", hidden_size,
             " is not divisible by num_attention_heads ", num_attention_heads);
  READ_CHECK(image_size % patch_size == 0, source, ": image_size ", image_size,
             " is not a multiple of patch_size ", patch_size);
  READ_CHECK(hidden_act == "quick_gelu" || hidden_act == "gelu" || hidden_act == "gelu_new" ||
                 hidden_act == "gelu_pytorch_tanh",
             source, ": unsupported hidden_act '", hidden_act, "'");
}

}  // namespace rd
