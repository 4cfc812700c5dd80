// SAM's two-way transformer (segment_anything/modeling/transformer.py): the
// prompt tokens and the image tokens attend to each other in every block;
// parameter names `layers.N.{self_attn, norm1, cross_attn_token_to_image,
// norm2, mlp.{lin1,lin2}, norm3, norm4, cross_attn_image_to_token}`,
// `final_attn_token_to_image`, `norm_final_attn`.
#pragma once
#include <torch/torch.h>

#include <utility>

#include "model/sam_common.h"

namespace rd::sam {

// Attention with separate q/k/v/out projections that may project down to
// embedding_dim / downsample_rate internally (transformer.Attention).
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t embedding_dim, int64_t num_heads, int64_t downsample_rate = 1);
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t num_heads_;
};
TORCH_MODULE(Attention);

// One block: (1) self-attention on the tokens (the first block has no PE and
// no residual), (2) tokens -> image cross-attention, (3) MLP on the tokens,
// (4) image -> tokens cross-attention; residual + LayerNorm after each.
class TwoWayAttentionBlockImpl : public torch::nn::Module {
 public:
  TwoWayAttentionBlockImpl(int64_t embedding_dim, int64_t num_heads, int64_t mlp_dim,
                           int64_t attention_downsample_rate, bool skip_first_layer_pe);
  // -> (queries, keys)
  std::pair<torch::Tensor, torch::Tensor> forward(torch::Tensor queries, torch::Tensor keys,
                                                  const torch::Tensor& query_pe,
                                                  const torch::Tensor& key_pe);

  Attention self_attn{nullptr}, cross_attn_token_to_image{nullptr},
      cross_attn_image_to_token{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr}, norm4{nullptr};
  MLPBlock mlp{nullptr};

 private:
  bool skip_first_layer_pe_;
};
TORCH_MODULE(TwoWayAttentionBlock);

struct TwoWayTransformerOptions {
  int64_t depth = 2;
  int64_t embedding_dim = 256;
  int64_t num_heads = 8;
  int64_t mlp_dim = 2048;
  int64_t attention_downsample_rate = 2;
};

class TwoWayTransformerImpl : public torch::nn::Module {
 public:
  explicit TwoWayTransformerImpl(const TwoWayTransformerOptions& o);
  // image_embedding [B, C, h, w], image_pe [B, C, h, w], point_embedding
  // [B, N, C] -> (queries [B, N, C], keys [B, h*w, C]).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& image_embedding,
                                                  const torch::Tensor& image_pe,
                                                  const torch::Tensor& point_embedding);

  torch::nn::ModuleList layers{nullptr};
  Attention final_attn_token_to_image{nullptr};
  torch::nn::LayerNorm norm_final_attn{nullptr};
};
TORCH_MODULE(TwoWayTransformer);

}  // namespace rd::sam
