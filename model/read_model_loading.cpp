#include "model/read_model_loading.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoints/formats/load_state_dict.h"
#include "common/error.h"
#include "common/logging.h"
#include "model/peft_adapter.h"

namespace rd {
namespace {

bool has_prefix(const StateDict& sd, const std::string& prefix) {
  auto it = sd.lower_bound(prefix);
  return it != sd.end() && it->first.rfind(prefix, 0) == 0;
}


}  // namespace

ReadForCausalLM build_read_model(const ReadModelConfig& config) {
  ReadForCausalLM m(config);
  m->resize_vocab(config.vocab_size);
  if (config.use_lora) apply_lora(*m->llm, config.lora);
  m->set_trainable();
  return m;
}

ReadForCausalLM load_read_model(const ReadModelConfig& config, const ReadWeightSources& src) {
  READ_CHECK(!src.model_dir.empty(), "load_read_model: no model folder given");
  ReadModelConfig cfg = config;
  cfg.llava = LlavaConfig::from_file(src.model_dir);
  const std::string tower_dir = cfg.llava.vision_tower_dir(src.model_dir, src.vision_tower);
  cfg.llava.vision = ClipVisionConfig::from_file(tower_dir);
  {
    std::ifstream f(std::filesystem::path(src.model_dir) / "config.json");
    nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_object() && j.contains("out_dim") && j["out_dim"].is_number_integer())
      cfg.out_dim = j["out_dim"].get<int64_t>();
  }
  // The LLaMA is built (and loaded) at the checkpoint's vocabulary and resized after.
  ReadForCausalLM m(cfg);

  StateDict sd = load_state_dict(src.model_dir);
  const bool is_read = has_prefix(sd, "model.visual_model.") || has_prefix(sd, "model.text_hidden_fcs.");
  const bool has_tower = has_prefix(sd, "model.vision_tower.");
  m->load_llava_weights(sd, {"model.visual_model.", "model.text_hidden_fcs."}).check("READ (LLaVA part)", src.model_dir);
  if (is_read) {
    READ_CHECK(src.sam.empty(), src.model_dir, " is a READ checkpoint with its own SAM weights; do not also give ",
               src.sam);
    m->visual_model->load_state_dict(sd, "model.visual_model.", src.model_dir);
    LoadOptions o;
    o.prefix = "model.text_hidden_fcs.";
    load_into(*m->text_hidden_fcs, sd, o).check("text_hidden_fcs", src.model_dir);
  } else {
    READ_CHECK(!src.sam.empty(), src.model_dir,
               " is a LLaVA checkpoint (no model.visual_model.*): give the SAM weights (sam_vit_h_4b8939.pth)");
    sd.clear();
    m->visual_model->load_state_dict(load_state_dict(src.sam), "", src.sam);
    LOG(INFO) << "READ: text_hidden_fcs freshly initialised (not in " << src.model_dir << ")";
  }
  sd.clear();
  if (!has_tower) m->clip()->load(load_state_dict(tower_dir)).check("CLIP vision tower", tower_dir);

  if (config.vocab_size != m->llm->config().vocab_size) {
    LOG(INFO) << "READ: vocabulary " << m->llm->config().vocab_size << " -> " << config.vocab_size
              << " (new rows ~ N(0, " << config.new_token_init_std << "))";
    m->resize_vocab(config.vocab_size);
  }
  if (!src.adapter.empty()) {
    m->set_lora_config(load_peft_adapter(*m->llm, src.adapter));
  } else if (config.use_lora) {
    apply_lora(*m->llm, config.lora);
  }
  m->set_trainable();
  return m;
}

}  // namespace rd
