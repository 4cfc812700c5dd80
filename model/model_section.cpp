#include "model/model_section.h"

#include "common/error.h"

namespace rd {
ModelSection ModelSection::read(ConfigReader r, bool check) {
  ModelSection m;
  m.init = r.get<std::string>("init", m.init);
  r.check_one_of("init", m.init, {"pretrained", "random"});
  if (m.init == "pretrained") {
    m.llava_dir = r.path("llava_dir", check);
    m.vision_tower_dir = r.path("vision_tower_dir", check);
    // Absent when llava_dir is a READ HF folder (it holds SAM as model.visual_model.*).
    if (r.has("sam_checkpoint")) m.sam_checkpoint = r.path("sam_checkpoint", check);
  }
  m.tokenizer_dir = r.has("tokenizer_dir") || m.init == "random" ? r.path("tokenizer_dir", check) : m.llava_dir;
  {
    ConfigReader l = r.child("llm");
    m.llm.hidden_size = l.get("hidden_size", m.llm.hidden_size);
    m.llm.intermediate_size = l.get("intermediate_size", m.llm.intermediate_size);
    m.llm.num_layers = l.get("num_layers", m.llm.num_layers);
    m.llm.num_heads = l.get("num_heads", m.llm.num_heads);
    m.llm.rms_norm_eps = l.get("rms_norm_eps", m.llm.rms_norm_eps);
    READ_CHECK(m.llm.hidden_size % m.llm.num_heads == 0, r.source(), ": model.llm.hidden_size ",
               m.llm.hidden_size, " is not a multiple of num_heads ", m.llm.num_heads);
  }
  {
    ConfigReader v = r.child("vision");
    m.vision.image_size = v.get("image_size", m.vision.image_size);
    m.vision.patch_size = v.get("patch_size", m.vision.patch_size);
    m.vision.hidden_size = v.get("hidden_size", m.vision.hidden_size);
    m.vision.num_layers = v.get("num_layers", m.vision.num_layers);
    m.vision.num_heads = v.get("num_heads", m.vision.num_heads);
    m.vision.intermediate_size = v.get("intermediate_size", m.vision.intermediate_size);
    READ_CHECK(m.vision.image_size % m.vision.patch_size == 0, r.source(),
               ": model.vision.image_size must be a multiple of patch_size");
  }
  {
    ConfigReader s = r.child("sam");
    m.sam.variant = s.get("variant", m.sam.variant);
    s.check_one_of("variant", m.sam.variant, {"vit_h", "vit_l", "vit_b", "custom"});
    m.sam.image_size = s.get("image_size", m.sam.image_size);
    m.sam.embed_dim = s.get("embed_dim", m.sam.embed_dim);
    m.sam.depth = s.get("depth", m.sam.depth);
    m.sam.num_heads = s.get("num_heads", m.sam.num_heads);
    m.sam.window_size = s.get("window_size", m.sam.window_size);
    m.sam.global_attn_indexes = s.get("global_attn_indexes", m.sam.global_attn_indexes);
    m.sam.prompt_embed_dim = s.get("prompt_embed_dim", m.sam.prompt_embed_dim);
    m.sam.decoder_mlp_dim = s.get("decoder_mlp_dim", m.sam.decoder_mlp_dim);
    m.sam.decoder_num_heads = s.get("decoder_num_heads", m.sam.decoder_num_heads);
    m.sam.iou_head_hidden_dim = s.get("iou_head_hidden_dim", m.sam.iou_head_hidden_dim);
  }
  {
    ConfigReader l = r.child("lora");
    m.lora.r = l.get("r", m.lora.r);
    m.lora.alpha = l.get("alpha", m.lora.alpha);
    m.lora.dropout = l.get("dropout", m.lora.dropout);
    m.lora.target_modules = l.get("target_modules", m.lora.target_modules);
    l.check_positive("r", m.lora.r);
  }
  {
    ConfigReader s = r.child("sasp");
    m.sasp.num_points = s.get("num_points", m.sasp.num_points);
    m.sasp.down_sample = s.get("down_sample", m.sasp.down_sample);
    m.sasp.target_size = s.get("target_size", m.sasp.target_size);
    m.sasp.t_pos = s.get("t_pos", m.sasp.t_pos);
    m.sasp.t_neg = s.get("t_neg", m.sasp.t_neg);
    m.sasp.paper_eps = s.get("paper_eps", m.sasp.paper_eps);
    m.sasp.variant = s.get("variant", m.sasp.variant);
    s.check_one_of("variant", m.sasp.variant, {"code", "paper"});
    READ_CHECK(m.sasp.t_neg < m.sasp.t_pos, r.source(), ": model.sasp.t_neg must be below t_pos");
  }
  {
    ConfigReader l = r.child("loss");
    m.loss.ce_weight = l.get("ce_weight", m.loss.ce_weight);
    m.loss.bce_weight = l.get("bce_weight", m.loss.bce_weight);
    m.loss.dice_weight = l.get("dice_weight", m.loss.dice_weight);
  }
  m.out_dim = r.get("out_dim", m.out_dim);
  m.model_max_length = r.get("model_max_length", m.model_max_length);
  m.precision = r.get("precision", m.precision);
  r.check_one_of("precision", m.precision, {"bf16", "fp32"});
  m.gradient_checkpointing = r.get("gradient_checkpointing", m.gradient_checkpointing);
  m.extra_trainable = r.get("extra_trainable", m.extra_trainable);
  for (const auto& prefix : m.extra_trainable)
    READ_CHECK(prefix.rfind("model.", 0) == 0 || prefix.rfind("lm_head", 0) == 0, r.source(),
               ": model.extra_trainable entries are parameter-name prefixes such as "
               "\"model.visual_model.image_encoder.\", got \"", prefix, "\"");
  return m;
}

ModelSection ModelSection::load(const std::string& path, const std::vector<std::string>& overrides,
                                bool check_paths) {
  return read_config_section(path, overrides, "model", [&](ConfigReader& r) { return read(r, check_paths); });
}

}  // namespace rd
