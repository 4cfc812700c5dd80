#include "model/clip_vision.h"

#include <filesystem>

#include "common/error.h"
#include "checkpoints/formats/load_state_dict.h"

namespace rd {
namespace F = torch::nn::functional;

ClipAttentionImpl::ClipAttentionImpl(const ClipVisionConfig& c)
    : heads_(c.num_attention_heads), head_dim_(c.head_dim()) {
  const int64_t d = c.hidden_size;
  k_proj = register_module("k_proj", torch::nn::Linear(d, d));
  v_proj = register_module("v_proj", torch::nn::Linear(d, d));
  q_proj = register_module("q_proj", torch::nn::Linear(d, d));
  out_proj = register_module("out_proj", torch::nn::Linear(d, d));
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), t = x.size(1);
  auto split = [&](const torch::Tensor& y) { return y.view({b, t, heads_, head_dim_}).transpose(1, 2); };
  // HF scales q before the product: (q * head_dim^-0.5) k^T.
  torch::Tensor q = split(q_proj(x) * std::pow(static_cast<double>(head_dim_), -0.5));
  torch::Tensor k = split(k_proj(x)), v = split(v_proj(x));
  torch::Tensor p = torch::softmax(torch::matmul(q, k.transpose(-1, -2)), -1);
  torch::Tensor o = torch::matmul(p, v).transpose(1, 2).reshape({b, t, heads_ * head_dim_});
  return out_proj(o);
}

ClipMlpImpl::ClipMlpImpl(const ClipVisionConfig& c) : act_(c.hidden_act) {
  fc1 = register_module("fc1", torch::nn::Linear(c.hidden_size, c.intermediate_size));
  fc2 = register_module("fc2", torch::nn::Linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = fc1(x);
  if (act_ == "quick_gelu")
    h = h * torch::sigmoid(1.702 * h);  // QuickGELUActivation
  else if (act_ == "gelu")
    h = torch::gelu(h);
  else
    h = torch::gelu(h, "tanh");  // gelu_new / gelu_pytorch_tanh
  return fc2(h);
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipVisionConfig& c) {
  auto ln = torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps);
  self_attn = register_module("self_attn", ClipAttention(c));
  layer_norm1 = register_module("layer_norm1", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", ClipMlp(c));
  layer_norm2 = register_module("layer_norm2", torch::nn::LayerNorm(ln));
}

torch::Tensor ClipEncoderLayerImpl::forward(torch::Tensor h) {
  h = h + self_attn(layer_norm1(h));
  return h + mlp(layer_norm2(h));
}

ClipEncoderImpl::ClipEncoderImpl(const ClipVisionConfig& c) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(ClipEncoderLayer(c));
}

ClipVisionEmbeddingsImpl::ClipVisionEmbeddingsImpl(const ClipVisionConfig& c)
    : image_size_(c.image_size) {
  class_embedding = register_parameter("class_embedding", torch::randn({c.hidden_size}));
  patch_embedding = register_module(
      "patch_embedding", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size)
                                               .stride(c.patch_size)
                                               .bias(false)));
  position_embedding = register_module("position_embedding", torch::nn::Embedding(c.num_positions(), c.hidden_size));
}

torch::Tensor ClipVisionEmbeddingsImpl::forward(const torch::Tensor& pixel_values) {
  READ_CHECK(pixel_values.dim() == 4 && pixel_values.size(2) == image_size_ && pixel_values.size(3) == image_size_,
             "CLIP vision: pixel_values must be [B, C, ", image_size_, ", ", image_size_, "], got ",
             pixel_values.sizes());
  const int64_t b = pixel_values.size(0);
  torch::Tensor w = patch_embedding->weight;
  torch::Tensor patches = patch_embedding(pixel_values.to(w.dtype())).flatten(2).transpose(1, 2);  // [B, P, D]
  torch::Tensor cls = class_embedding.to(patches.dtype()).view({1, 1, -1}).expand({b, 1, patches.size(2)});
  return torch::cat({cls, patches}, 1) + position_embedding->weight.unsqueeze(0);
}

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionConfig& c) : config_(c) {
  auto ln = torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps);
  embeddings = register_module("embeddings", ClipVisionEmbeddings(c));
  pre_layrnorm = register_module("pre_layrnorm", torch::nn::LayerNorm(ln));
  encoder = register_module("encoder", ClipEncoder(c));
  post_layernorm = register_module("post_layernorm", torch::nn::LayerNorm(ln));
}

ClipVisionOutput ClipVisionTransformerImpl::forward(const torch::Tensor& pixel_values) {
  ClipVisionOutput out;
  torch::Tensor h = pre_layrnorm(embeddings(pixel_values));
  out.hidden_states.push_back(h);
  for (size_t i = 0; i < encoder->layers->size(); ++i) {
    h = encoder->layer(i)->forward(h);
    out.hidden_states.push_back(h);
  }
  out.last_hidden_state = h;
  out.pooler_output = post_layernorm(h.select(1, 0));
  return out;
}

torch::Tensor ClipVisionTransformerImpl::features(const torch::Tensor& pixel_values, int64_t select_layer,
                                                  const std::string& select_feature) {
  const int64_t n = static_cast<int64_t>(encoder->layers->size()) + 1;  // length of hidden_states
  const int64_t idx = select_layer < 0 ? n + select_layer : select_layer;
  READ_CHECK(idx >= 0 && idx < n, "CLIP vision: select_layer ", select_layer, " out of range for ", n - 1,
             " layers");
  READ_CHECK(select_feature == "patch" || select_feature == "cls_patch",
             "CLIP vision: unknown select_feature '", select_feature, "' (patch | cls_patch)");
  torch::Tensor h = pre_layrnorm(embeddings(pixel_values));
  for (int64_t i = 0; i < idx; ++i) h = encoder->layer(i)->forward(h);
  return select_feature == "patch" ? h.slice(1, 1) : h;
}

ClipVisionModelImpl::ClipVisionModelImpl(const ClipVisionConfig& c) {
  vision_model = register_module("vision_model", ClipVisionTransformer(c));
}

LoadReport ClipVisionModelImpl::load(const StateDict& sd, const std::string& prefix) {
  LoadOptions opt;
  opt.prefix = prefix;
  opt.ignore = [](const std::string& key) {
    return key.rfind("vision_model.", 0) != 0 || key == "vision_model.embeddings.position_ids";
  };
  return load_into(*this, sd, opt);
}

ClipVisionModel load_clip_vision_folder(const std::string& folder) {
  ClipVisionModel m(ClipVisionConfig::from_file(folder));
  m->load(load_state_dict(folder)).check("CLIP vision tower", folder);
  return m;
}

}  // namespace rd
