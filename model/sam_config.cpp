#include "model/sam_config.h"

#include "common/error.h"

namespace rd::sam {

SamConfig SamConfig::vit_h() { return SamConfig{}; }

SamConfig SamConfig::vit_l() {
  SamConfig c;
  c.encoder_embed_dim = 1024;
  c.encoder_depth = 24;
  c.encoder_num_heads = 16;
  c.encoder_global_attn_indexes = {5, 11, 17, 23};
  return c;
}

SamConfig SamConfig::vit_b() {
  SamConfig c;
  c.encoder_embed_dim = 768;
  c.encoder_depth = 12;
  c.encoder_num_heads = 12;
  c.encoder_global_attn_indexes = {2, 5, 8, 11};
  return c;
}

SamConfig SamConfig::preset(const std::string& name0) {
  std::string name = name0.rfind("sam_", 0) == 0 ? name0.substr(4) : name0;
  if (name == "vit_h") return vit_h();
  if (name == "vit_l") return vit_l();
  if (name == "vit_b") return vit_b();
  fail("unknown SAM preset '", name0, "' (expected vit_h, vit_l or vit_b)");
}

void SamConfig::validate() const {
  READ_CHECK(patch_size > 0 && img_size > 0 && img_size % patch_size == 0, "SAM config: img_size ",
             img_size, " must be a positive multiple of patch_size ", patch_size);
  READ_CHECK(encoder_num_heads > 0 && encoder_embed_dim % encoder_num_heads == 0,
             "SAM config: encoder_embed_dim ", encoder_embed_dim,
             " must be divisible by encoder_num_heads ", encoder_num_heads);
  READ_CHECK(window_size >= 0, "SAM config: window_size must be >= 0");
  for (int64_t g : encoder_global_attn_indexes)
    READ_CHECK(g >= 0 && g < encoder_depth, "SAM config: encoder_global_attn_indexes entry ", g,
               " outside depth ", encoder_depth);
  READ_CHECK(prompt_embed_dim % 8 == 0, "SAM config: prompt_embed_dim ", prompt_embed_dim,
             " must be a multiple of 8");
  READ_CHECK(mask_in_chans % 4 == 0, "SAM config: mask_in_chans must be a multiple of 4");
  READ_CHECK(decoder_attention_downsample_rate > 0 &&
                 (prompt_embed_dim / decoder_attention_downsample_rate) % decoder_num_heads == 0 &&
                 prompt_embed_dim % decoder_num_heads == 0,
             "SAM config: decoder_num_heads ", decoder_num_heads, " must divide prompt_embed_dim ",
             prompt_embed_dim, " and prompt_embed_dim / decoder_attention_downsample_rate");
  READ_CHECK(num_multimask_outputs >= 1 && iou_head_depth >= 1,
             "SAM config: num_multimask_outputs and ", "iou_head_depth must be >= 1");
}

ImageEncoderViTOptions SamConfig::image_encoder_options() const {
  ImageEncoderViTOptions o;
  o.img_size = img_size;
  o.patch_size = patch_size;
  o.in_chans = 3;
  o.embed_dim = encoder_embed_dim;
  o.depth = encoder_depth;
  o.num_heads = encoder_num_heads;
  o.mlp_ratio = mlp_ratio;
  o.out_chans = prompt_embed_dim;
  o.qkv_bias = true;
  o.layernorm_eps = encoder_layernorm_eps;
  o.neck_layernorm2d_eps = layernorm2d_eps;
  o.use_abs_pos = true;
  o.use_rel_pos = true;
  o.window_size = window_size;
  o.global_attn_indexes = encoder_global_attn_indexes;
  return o;
}

PromptEncoderOptions SamConfig::prompt_encoder_options() const {
  PromptEncoderOptions o;
  o.embed_dim = prompt_embed_dim;
  o.image_embedding_size = {image_embedding_size(), image_embedding_size()};
  o.input_image_size = {img_size, img_size};
  o.mask_in_chans = mask_in_chans;
  o.layernorm2d_eps = layernorm2d_eps;
  return o;
}

MaskDecoderOptions SamConfig::mask_decoder_options() const {
  MaskDecoderOptions o;
  o.transformer_dim = prompt_embed_dim;
  o.transformer.depth = decoder_transformer_depth;
  o.transformer.embedding_dim = prompt_embed_dim;
  o.transformer.num_heads = decoder_num_heads;
  o.transformer.mlp_dim = decoder_mlp_dim;
  o.transformer.attention_downsample_rate = decoder_attention_downsample_rate;
  o.num_multimask_outputs = num_multimask_outputs;
  o.iou_head_depth = iou_head_depth;
  o.iou_head_hidden_dim = iou_head_hidden_dim;
  o.layernorm2d_eps = layernorm2d_eps;
  return o;
}

}  // namespace rd::sam
