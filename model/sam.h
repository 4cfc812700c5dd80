// Segment Anything (segment_anything/modeling/sam.py) as READ uses it: the
// image encoder, the prompt encoder (READ's variant with text_embeds) and the
// mask decoder, with the reference's parameter names so that
// sam_vit_{h,l,b}_*.pth and READ checkpoints (`model.visual_model.` + these
// names) load key for key.
//
// How READ uses it (one image i with n_i [SEG] embeddings):
//   rd::sam::Sam sam(rd::sam::SamConfig::vit_h());
//   sam->load_state_dict(rd::load_state_dict("sam_vit_h_4b8939.pth"), "", path);
//   torch::Tensor emb = sam->image_embeddings(images);  // [B, 256, 64, 64], no grad
//   rd::sam::SamPrediction p = sam->predict(
//       emb[i].unsqueeze(0),  // [1, 256, 64, 64]
//       points,               // [n, K, 2] (x, y) in the 1024 frame (float, may require grad)
//       labels,               // [n, K] 1 / 0 / -1
//       text_embeds,          // [n, 1, 256]
//       /*multimask_output=*/false, {h', w'}, {H, W});
//   p.masks  // [n, 1, H, W] logits (> 0 = mask), differentiable in points,
//            // text_embeds and the mask decoder's weights.
// Preprocessing (resize longest side, normalise, pad) is the data layer's.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "checkpoints/formats/state_dict.h"
#include "model/sam_config.h"
#include "model/sam_image_encoder.h"
#include "model/sam_mask_decoder.h"
#include "model/sam_prompt_encoder.h"
#include "model/weight_loading.h"

namespace rd::sam {

struct SamPrediction {
  PromptEmbeddings prompt;  // sparse [n, N, D], dense [n, D, h, w]
  // low_res_masks [n, m, 4h, 4w], iou_predictions [n, m], transformer outputs
  MaskDecoderOutput decoder;
  torch::Tensor masks;  // [n, m, H, W] logits at the original size
};

struct SamLoadReport {
  LoadReport keys;                   // every key loaded (missing/unexpected/mismatched raise)
  std::vector<std::string> resized;  // pos_embed / rel_pos_* taken at the checkpoint's size
};

class SamImpl : public torch::nn::Module {
 public:
  explicit SamImpl(SamConfig config);

  // Loads `prefix + name` for every parameter and buffer (rd::load_into:
  // floating tensors are converted to the module's dtype, and kept on its
  // device). Missing keys, unexpected keys under the prefix and shape
  // mismatches all raise one rd::Error naming every offending key and
  // `source`. pos_embed and rel_pos_{h,w} of another grid/window size are
  // taken as they are and interpolated at run time (like the reference does
  // for rel_pos).
  SamLoadReport load_state_dict(const StateDict& sd, const std::string& prefix = "",
                                const std::string& source = "state dict");

  // Every parameter and buffer under its checkpoint name (prefix + name).
  StateDict state_dict(const std::string& prefix = "") const;

  // The image encoder on normalised, padded images [B, 3, img, img], under
  // NoGradGuard (READ keeps the encoder frozen): [B, D, img/16, img/16].
  torch::Tensor image_embeddings(const torch::Tensor& images);

  // Prompt encoder -> mask decoder -> postprocess_masks for the prompts of
  // ONE image: image_embedding [1, D, h, w]; points [n, K, 2] (x, y) in the
  // resized-image frame, or undefined; labels [n, K]; text_embeds [n, T, D]
  // or undefined. input_hw = size after SAM's resize (before padding),
  // original_hw = the image's size. READ: multimask_output = false.
  SamPrediction predict(const torch::Tensor& image_embedding, const torch::Tensor& points,
                        const torch::Tensor& labels, const torch::Tensor& text_embeds,
                        bool multimask_output, std::pair<int64_t, int64_t> input_hw,
                        std::pair<int64_t, int64_t> original_hw);

  // masks [n, m, h, w] -> bilinear to img_size x img_size, crop to input_hw,
  // bilinear to original_hw (align_corners false); logits, not thresholded.
  torch::Tensor postprocess_masks(const torch::Tensor& masks, std::pair<int64_t, int64_t> input_hw,
                                  std::pair<int64_t, int64_t> original_hw) const;

  const SamConfig& config() const { return config_; }

  ImageEncoderViT image_encoder{nullptr};
  PromptEncoder prompt_encoder{nullptr};
  MaskDecoder mask_decoder{nullptr};

 private:
  SamConfig config_;
};
TORCH_MODULE(Sam);

}  // namespace rd::sam
