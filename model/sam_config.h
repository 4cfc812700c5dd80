// SAM architecture settings: the ViT-B/L/H presets of
// segment_anything/build_sam.py (and READ's copy) or any custom size (the
// tiny fixture models). Defaults are ViT-H.
#pragma once
#include <string>
#include <vector>

#include "model/sam_image_encoder.h"
#include "model/sam_mask_decoder.h"
#include "model/sam_prompt_encoder.h"

namespace rd::sam {

struct SamConfig {
  // image encoder
  int64_t img_size = 1024;
  int64_t patch_size = 16;
  int64_t encoder_embed_dim = 1280;
  int64_t encoder_depth = 32;
  int64_t encoder_num_heads = 16;
  std::vector<int64_t> encoder_global_attn_indexes{7, 15, 23, 31};
  int64_t window_size = 14;
  double mlp_ratio = 4.0;
  double encoder_layernorm_eps = 1e-6;  // the ViT blocks' nn.LayerNorm (SAM: 1e-6)
  double layernorm2d_eps = 1e-6;        // every LayerNorm2d (neck, upscaling, mask_downscaling)
  // prompt encoder; also the image embedding width (the neck's out_chans)
  int64_t prompt_embed_dim = 256;
  int64_t mask_in_chans = 16;
  // mask decoder
  int64_t num_multimask_outputs = 3;
  int64_t decoder_transformer_depth = 2;
  int64_t decoder_num_heads = 8;
  int64_t decoder_mlp_dim = 2048;
  int64_t decoder_attention_downsample_rate = 2;
  int64_t iou_head_depth = 3;
  int64_t iou_head_hidden_dim = 256;

  static SamConfig vit_h();
  static SamConfig vit_l();
  static SamConfig vit_b();
  // "vit_h" | "vit_l" | "vit_b" (also "sam_vit_h" etc.); others -> rd::Error.
  static SamConfig preset(const std::string& name);

  int64_t image_embedding_size() const { return img_size / patch_size; }  // 64 for 1024/16
  void validate() const;  // rd::Error naming the inconsistent setting

  ImageEncoderViTOptions image_encoder_options() const;
  PromptEncoderOptions prompt_encoder_options() const;
  MaskDecoderOptions mask_decoder_options() const;
};

}  // namespace rd::sam
