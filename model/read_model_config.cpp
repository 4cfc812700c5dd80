#include "model/read_model_config.h"

#include "common/config_reader.h"
#include "common/error.h"

namespace rd {

ReadModelConfig ReadModelConfig::read7b() {
  ReadModelConfig c;
  c.llava = LlavaConfig::llava15_7b();
  c.llava.llm.pad_token_id = 0;  // READ sets pad = unk
  c.sam = sam::SamConfig::vit_h();
  return c;
}

ReadModelConfig ReadModelConfig::read13b() {
  ReadModelConfig c = read7b();
  c.llava = LlavaConfig::llava15_13b();
  c.llava.llm.pad_token_id = 0;
  return c;
}

ReadModelConfig ReadModelConfig::tiny(int64_t vocab) {
  READ_CHECK(vocab > 3, "tiny READ: vocabulary must exceed the 3 added tokens");
  ReadModelConfig c;
  c.llava.llm = LlamaConfig::tiny(vocab - 3, 64, 2, 4);
  c.llava.vision.hidden_size = 32;
  c.llava.vision.intermediate_size = 128;
  c.llava.vision.num_hidden_layers = 3;
  c.llava.vision.num_attention_heads = 2;
  c.llava.vision.image_size = 112;
  c.llava.vision.patch_size = 14;
  c.llava.mm_hidden_size = 32;
  c.llava.mm_vision_tower.clear();
  c.vocab_size = vocab;
  c.seg_token_id = vocab - 3;
  c.sam.img_size = 128;
  c.sam.encoder_embed_dim = 32;
  c.sam.encoder_depth = 2;
  c.sam.encoder_num_heads = 2;
  c.sam.encoder_global_attn_indexes = {1};
  c.sam.window_size = 3;
  c.sam.prompt_embed_dim = 32;
  c.sam.decoder_num_heads = 2;
  c.sam.decoder_mlp_dim = 64;
  c.sam.iou_head_hidden_dim = 16;
  c.out_dim = 32;
  c.gradient_checkpointing = false;
  return c;
}

ReadModelConfig ReadModelConfig::preset(const std::string& name) {
  if (name == "read7b" || name == "7b") return read7b();
  if (name == "read13b" || name == "13b") return read13b();
  if (name == "tiny") return tiny();
  fail("unknown READ model preset '", name, "' (read7b | read13b | tiny)");
}

ReadModelConfig ReadModelConfig::read(ConfigReader& r) {
  const std::string name = r.get<std::string>("preset", "read7b");
  ReadModelConfig c = preset(name);
  // The tiny model is built fresh: its base vocabulary follows vocab_size
  // (the three added tokens last). The real presets load a 32000-token base.
  if (name == "tiny" && r.has("vocab_size")) c = tiny(r.get<long long>("vocab_size", c.vocab_size));
  c.vocab_size = r.get<long long>("vocab_size", c.vocab_size);
  c.seg_token_id = r.get<long long>("seg_token_id", c.seg_token_id);
  c.out_dim = r.get<long long>("out_dim", c.out_dim);
  c.use_lora = r.get<bool>("use_lora", c.use_lora);
  c.gradient_checkpointing = r.get<bool>("gradient_checkpointing", c.gradient_checkpointing);
  c.new_token_init_std = r.get<double>("new_token_init_std", c.new_token_init_std);
  if (r.has("sam_preset")) {
    sam::SamConfig s = sam::SamConfig::preset(r.get<std::string>("sam_preset", "vit_h"));
    s.img_size = c.sam.img_size;
    c.sam = s;
  }
  if (r.has("lora")) {
    ConfigReader l = r.child("lora");
    c.lora.r = l.get<long long>("r", c.lora.r);
    c.lora.alpha = l.get<double>("alpha", c.lora.alpha);
    c.lora.dropout = l.get<double>("dropout", c.lora.dropout);
    c.lora.target_modules = l.get<std::vector<std::string>>("target_modules", c.lora.target_modules);
    l.finish();
    c.lora.validate(r.source());
  }
  if (r.has("sasp")) {
    ConfigReader s = r.child("sasp");
    c.sasp = SaspConfig::read(s);
  }
  if (r.has("loss")) {
    ConfigReader l = r.child("loss");
    c.loss = LossWeights::read(l);
  }
  r.finish();
  c.validate(r.source());
  return c;
}

void ReadModelConfig::validate(const std::string& source) const {
  READ_CHECK(out_dim == sam.prompt_embed_dim, source, ": out_dim ", out_dim, " must equal the SAM prompt width ",
             sam.prompt_embed_dim);
  READ_CHECK(vocab_size >= llava.llm.vocab_size, source, ": vocab_size ", vocab_size,
             " is smaller than the base vocabulary ", llava.llm.vocab_size);
  READ_CHECK(seg_token_id >= 0 && seg_token_id < vocab_size, source, ": seg_token_id ", seg_token_id,
             " outside the vocabulary of ", vocab_size);
  READ_CHECK(llava.mm_hidden_size == llava.vision.hidden_size, source, ": mm_hidden_size ", llava.mm_hidden_size,
             " != CLIP hidden_size ", llava.vision.hidden_size);
  sam.validate();
}

}  // namespace rd
