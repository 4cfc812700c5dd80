#include "model/model_sizes.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "checkpoints/formats/json_file.h"
#include "common/error.h"
#include "model/tokenizer.h"

namespace rd {
namespace fs = std::filesystem;

ModelSizes model_sizes(const ModelSection& m) {
  ModelSizes s;
  const int64_t added = kReadAddedTokens;
  if (m.init == "pretrained") {
    const fs::path config_json = fs::path(m.llava_dir) / "config.json";
    if (fs::exists(config_json)) {
      const nlohmann::json j = read_json_file(config_json.string());
      s.llm = LlamaConfig::from_json(j, config_json.string());
      // A READ folder (its config.json has READ's out_dim / train_mask_decoder)
      // already counts the added tokens; a LLaVA-1.5 folder does not.
      if (!(j.is_object() && (j.contains("out_dim") || j.contains("train_mask_decoder")))) s.llm.vocab_size += added;
    } else {
      s.llm = m.llava_dir.find("13b") != std::string::npos ? LlamaConfig::llama13b() : LlamaConfig::llama7b();
      s.llm.vocab_size += added;
    }
    s.clip = fs::exists(fs::path(m.vision_tower_dir) / "config.json") ? ClipVisionConfig::from_file(m.vision_tower_dir)
                                                                       : ClipVisionConfig::vit_l14_336();
  } else {
    int64_t vocab = Tokenizer::from_folder(m.tokenizer_dir).size();
    s.llm = LlamaConfig::tiny(vocab, m.llm.hidden_size, m.llm.num_layers, m.llm.num_heads);
    s.llm.intermediate_size = m.llm.intermediate_size;
    s.llm.rms_norm_eps = m.llm.rms_norm_eps;
    s.llm.max_position_embeddings = m.model_max_length;
    s.clip.hidden_size = m.vision.hidden_size;
    s.clip.intermediate_size = m.vision.intermediate_size;
    s.clip.num_hidden_layers = m.vision.num_layers;
    s.clip.num_attention_heads = m.vision.num_heads;
    s.clip.image_size = m.vision.image_size;
    s.clip.patch_size = m.vision.patch_size;
    s.clip.validate("model.vision");
  }
  if (m.sam.variant == "custom") {
    s.sam.img_size = m.sam.image_size;
    s.sam.encoder_embed_dim = m.sam.embed_dim;
    s.sam.encoder_depth = m.sam.depth;
    s.sam.encoder_num_heads = m.sam.num_heads;
    s.sam.window_size = m.sam.window_size;
    s.sam.encoder_global_attn_indexes.assign(m.sam.global_attn_indexes.begin(), m.sam.global_attn_indexes.end());
    s.sam.prompt_embed_dim = m.sam.prompt_embed_dim;
    s.sam.decoder_mlp_dim = m.sam.decoder_mlp_dim;
    s.sam.decoder_num_heads = m.sam.decoder_num_heads;
    s.sam.iou_head_hidden_dim = m.sam.iou_head_hidden_dim > 0 ? m.sam.iou_head_hidden_dim : m.sam.prompt_embed_dim;
  } else {
    s.sam = sam::SamConfig::preset(m.sam.variant);
  }
  s.sam.validate();
  READ_CHECK(m.out_dim == s.sam.prompt_embed_dim, "model.out_dim ", m.out_dim, " must equal SAM's prompt_embed_dim ",
             s.sam.prompt_embed_dim);
  return s;
}

}  // namespace rd
