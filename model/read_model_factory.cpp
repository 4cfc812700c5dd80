#include "model/tokenizer.h"
#include "model/read_model_factory.h"

#include "common/error.h"
#include "model/model_sizes.h"
#include "model/read_model_loading.h"

namespace rd {

ReadModelConfig read_model_config(const ModelSection& m, const Tokenizer& tokenizer) {
  ModelSizes s = model_sizes(m);
  ReadModelConfig c = m.init == "pretrained" ? ReadModelConfig::read7b() : ReadModelConfig::tiny(tokenizer.size());
  c.llava.llm = s.llm;
  c.llava.llm.vocab_size = s.llm.vocab_size - kReadAddedTokens;  // the base vocabulary; resized to c.vocab_size
  c.llava.vision = s.clip;
  c.llava.mm_hidden_size = s.clip.hidden_size;
  c.vocab_size = tokenizer.size();
  c.seg_token_id = tokenizer.seg_id();
  c.sam = s.sam;
  c.out_dim = m.out_dim;
  c.sasp.num_points = m.sasp.num_points;
  c.sasp.t_pos = m.sasp.t_pos;
  c.sasp.t_neg = m.sasp.t_neg;
  c.sasp.down_sample = m.sasp.down_sample;
  c.sasp.target_size = m.sasp.target_size;
  c.sasp.variant = parse_sasp_variant(m.sasp.variant);
  c.sasp.eps = m.sasp.paper_eps;
  c.loss.ce = m.loss.ce_weight;
  c.loss.bce = m.loss.bce_weight;
  c.loss.dice = m.loss.dice_weight;
  c.use_lora = true;
  c.lora.r = m.lora.r;
  c.lora.alpha = m.lora.alpha;
  c.lora.dropout = m.lora.dropout;
  c.lora.target_modules = m.lora.target_modules;
  c.gradient_checkpointing = m.gradient_checkpointing;
  c.extra_trainable = m.extra_trainable;
  c.validate("model");
  return c;
}

ReadForCausalLM make_read_model(const ModelSection& m, const Tokenizer& tokenizer) {
  ReadModelConfig c = read_model_config(m, tokenizer);
  if (m.init == "random") return build_read_model(c);
  ReadWeightSources src;
  src.model_dir = m.llava_dir;
  src.vision_tower = m.vision_tower_dir;
  src.sam = m.sam_checkpoint;
  return load_read_model(c, src);
}

}  // namespace rd
