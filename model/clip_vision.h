// CLIP vision tower with the conventions of Hugging Face's CLIPVisionModel
// (transformers modeling_clip.py), parameter names exactly as the real
// checkpoints (openai/clip-vit-large-patch14-336): vision_model.embeddings.
// {class_embedding, patch_embedding.weight, position_embedding.weight},
// vision_model.pre_layrnorm (sic), vision_model.encoder.layers.N.{self_attn.
// {q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2, layer_norm2},
// vision_model.post_layernorm.
//
// LLaVA uses hidden_states[select_layer] (default -2: the output of the
// second-to-last layer) without the CLS row; the last layer and
// post_layernorm then never run (features() stops early).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "checkpoints/formats/state_dict.h"
#include "model/clip_config.h"
#include "model/weight_loading.h"

namespace rd {

struct ClipVisionOutput {
  // [0] = pre_layrnorm(embeddings), [i] = output of encoder layer i-1;
  // num_hidden_layers + 1 entries, each [B, 1 + P, D].
  std::vector<torch::Tensor> hidden_states;
  torch::Tensor last_hidden_state;  // output of the last layer, no post_layernorm
  torch::Tensor pooler_output;      // post_layernorm(last_hidden_state[:, 0]) [B, D]
};

class ClipAttentionImpl : public torch::nn::Module {
 public:
  explicit ClipAttentionImpl(const ClipVisionConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D], no mask
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t heads_, head_dim_;
};
TORCH_MODULE(ClipAttention);

class ClipMlpImpl : public torch::nn::Module {
 public:
  explicit ClipMlpImpl(const ClipVisionConfig& c);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  std::string act_;
};
TORCH_MODULE(ClipMlp);

// Pre-LN block: h += attn(ln1(h)); h += mlp(ln2(h)).
class ClipEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit ClipEncoderLayerImpl(const ClipVisionConfig& c);
  torch::Tensor forward(torch::Tensor h);
  ClipAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr};
  ClipMlp mlp{nullptr};
  torch::nn::LayerNorm layer_norm2{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

class ClipEncoderImpl : public torch::nn::Module {
 public:
  explicit ClipEncoderImpl(const ClipVisionConfig& c);
  torch::nn::ModuleList layers{nullptr};
  ClipEncoderLayer layer(size_t i) const { return layers->ptr<ClipEncoderLayerImpl>(i); }
};
TORCH_MODULE(ClipEncoder);

// cat([class_embedding, patch_conv(x) flattened row-major]) + position_embedding.
class ClipVisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit ClipVisionEmbeddingsImpl(const ClipVisionConfig& c);
  torch::Tensor forward(const torch::Tensor& pixel_values);  // [B, 3, S, S] -> [B, 1 + P, D]
  torch::Tensor class_embedding;                              // [D]
  torch::nn::Conv2d patch_embedding{nullptr};                 // no bias
  torch::nn::Embedding position_embedding{nullptr};           // [1 + P, D]

 private:
  int64_t image_size_;
};
TORCH_MODULE(ClipVisionEmbeddings);

// HF CLIPVisionTransformer (the `vision_model` attribute of CLIPVisionModel).
class ClipVisionTransformerImpl : public torch::nn::Module {
 public:
  explicit ClipVisionTransformerImpl(const ClipVisionConfig& c);
  ClipVisionOutput forward(const torch::Tensor& pixel_values);
  // hidden_states[select_layer] (negative counts from the end of the
  // num_layers + 1 tuple), without the CLS row when select_feature is
  // "patch", with it for "cls_patch". Runs only the layers needed.
  torch::Tensor features(const torch::Tensor& pixel_values, int64_t select_layer = -2,
                         const std::string& select_feature = "patch");

  ClipVisionEmbeddings embeddings{nullptr};
  torch::nn::LayerNorm pre_layrnorm{nullptr};
  ClipEncoder encoder{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};
  const ClipVisionConfig& config() const { return config_; }

 private:
  ClipVisionConfig config_;
};
TORCH_MODULE(ClipVisionTransformer);

// HF CLIPVisionModel: parameter names start with "vision_model.".
class ClipVisionModelImpl : public torch::nn::Module {
 public:
  explicit ClipVisionModelImpl(const ClipVisionConfig& c);
  ClipVisionOutput forward(const torch::Tensor& pixel_values) { return vision_model->forward(pixel_values); }
  torch::Tensor features(const torch::Tensor& pixel_values, int64_t select_layer = -2,
                         const std::string& select_feature = "patch") {
    return vision_model->features(pixel_values, select_layer, select_feature);
  }
  const ClipVisionConfig& config() const { return vision_model->config(); }

  // Loads the `vision_model.*` tensors of sd (keys under `prefix`, e.g.
  // "model.vision_tower.vision_tower." in an unmerged LLaVA checkpoint).
  // Ignored: everything outside prefix + "vision_model." (a full CLIPModel
  // checkpoint's text_model.*, visual_projection, text_projection,
  // logit_scale) and the legacy int64 embeddings.position_ids buffer.
  LoadReport load(const StateDict& sd, const std::string& prefix = "");

  ClipVisionTransformer vision_model{nullptr};
};
TORCH_MODULE(ClipVisionModel);

// Builds the tower from a Hugging Face folder (config.json + weights in any
// format rd::load_state_dict reads). Throws naming every missing, unexpected
// or mismatched key.
ClipVisionModel load_clip_vision_folder(const std::string& folder);

}  // namespace rd
