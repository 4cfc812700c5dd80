#include "model/llava_config.h"

#include <filesystem>

#include "checkpoints/formats/json_file.h"
#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;

LlavaConfig LlavaConfig::llava15_7b() {
  LlavaConfig c;
  c.llm = LlamaConfig::llama7b();
  c.vision = ClipVisionConfig::vit_l14_336();
  c.mm_hidden_size = c.vision.hidden_size;
  c.mm_vision_tower = "openai/clip-vit-large-patch14-336";
  return c;
}

LlavaConfig LlavaConfig::llava15_13b() {
  LlavaConfig c = llava15_7b();
  c.llm = LlamaConfig::llama13b();
  return c;
}

LlavaConfig LlavaConfig::from_json(const nlohmann::json& j, const std::string& source) {
  LlavaConfig c;
  c.llm = LlamaConfig::from_json(j, source);
  auto get = [&](const char* key, auto& out) { read_json_field(j, key, out, source); };
  get("mm_hidden_size", c.mm_hidden_size);
  get("mm_projector_type", c.mm_projector_type);
  get("mm_vision_select_layer", c.mm_vision_select_layer);
  get("mm_vision_select_feature", c.mm_vision_select_feature);
  get("mm_vision_tower", c.mm_vision_tower);
  if (c.mm_vision_tower.empty()) get("vision_tower", c.mm_vision_tower);
  get("mm_use_im_start_end", c.mm_use_im_start_end);
  READ_CHECK(!j.value("mm_use_im_patch_token", false), source,
             ": mm_use_im_patch_token is not supported (READ forces it off)");
  return c;
}

LlavaConfig LlavaConfig::from_file(const std::string& path) {
  const std::string file = json_file_in(path, "config.json");
  return from_json(read_json_file(file), file);
}

nlohmann::json LlavaConfig::to_json() const {
  nlohmann::json j = llm.to_json();
  j["architectures"] = {"LlavaLlamaForCausalLM"};
  j["model_type"] = "llava";
  j["mm_hidden_size"] = mm_hidden_size;
  j["mm_projector_type"] = mm_projector_type;
  j["mm_vision_select_layer"] = mm_vision_select_layer;
  j["mm_vision_select_feature"] = mm_vision_select_feature;
  j["mm_vision_tower"] = mm_vision_tower;
  j["mm_use_im_start_end"] = mm_use_im_start_end;
  j["mm_use_im_patch_token"] = false;
  j["use_mm_proj"] = true;
  j["tune_mm_mlp_adapter"] = false;
  j["freeze_mm_mlp_adapter"] = true;
  j["image_aspect_ratio"] = "square";
  return j;
}

std::string LlavaConfig::vision_tower_dir(const std::string& model_dir, const std::string& override_dir) const {
  if (!override_dir.empty()) return override_dir;
  READ_CHECK(!mm_vision_tower.empty(), model_dir, ": config has no mm_vision_tower; give the CLIP folder");
  fs::path rel = fs::path(model_dir) / mm_vision_tower;
  if (fs::is_directory(rel)) return rel.lexically_normal().string();
  if (fs::is_directory(mm_vision_tower)) return mm_vision_tower;
  fail(model_dir, ": vision tower '", mm_vision_tower,
       "' is not a folder here (no network access: give the local CLIP folder explicitly)");
}

void LlavaConfig::validate(const std::string& source) const {
  llm.validate(source);
  vision.validate(source);
  READ_CHECK(mm_hidden_size == vision.hidden_size, source, ": mm_hidden_size ", mm_hidden_size,
             " != vision tower hidden_size ", vision.hidden_size);
  READ_CHECK(mm_vision_select_feature == "patch" || mm_vision_select_feature == "cls_patch", source,
             ": mm_vision_select_feature '", mm_vision_select_feature, "' (patch | cls_patch)");
}

}  // namespace rd
