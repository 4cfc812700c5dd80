#include "model/sam_two_way_transformer.h"

#include <cmath>

#include "common/error.h"

namespace rd::sam {

AttentionImpl::AttentionImpl(int64_t embedding_dim, int64_t num_heads, int64_t downsample_rate)
    : num_heads_(num_heads) {
  const int64_t internal = embedding_dim / downsample_rate;
  READ_CHECK(num_heads > 0 && internal % num_heads == 0, "SAM two-way transformer: num_heads ",
             num_heads, " must divide embedding_dim / downsample_rate = ", internal);
  q_proj = register_module("q_proj", torch::nn::Linear(embedding_dim, internal));
  k_proj = register_module("k_proj", torch::nn::Linear(embedding_dim, internal));
  v_proj = register_module("v_proj", torch::nn::Linear(embedding_dim, internal));
  out_proj = register_module("out_proj", torch::nn::Linear(internal, embedding_dim));
}

namespace {
torch::Tensor separate_heads(const torch::Tensor& x, int64_t heads) {  // B N C -> B heads N C/heads
  return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}
torch::Tensor recombine_heads(const torch::Tensor& x) {  // B heads N c -> B N heads*c
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}
}  // namespace

torch::Tensor AttentionImpl::forward(const torch::Tensor& q0, const torch::Tensor& k0,
                                     const torch::Tensor& v0) {
  torch::Tensor q = separate_heads(q_proj->forward(q0), num_heads_);
  torch::Tensor k = separate_heads(k_proj->forward(k0), num_heads_);
  torch::Tensor v = separate_heads(v_proj->forward(v0), num_heads_);
  const int64_t c_per_head = q.size(3);
  torch::Tensor attn = torch::matmul(q, k.permute({0, 1, 3, 2}));
  attn = attn / std::sqrt(double(c_per_head));
  attn = torch::softmax(attn, -1);
  return out_proj->forward(recombine_heads(torch::matmul(attn, v)));
}

TwoWayAttentionBlockImpl::TwoWayAttentionBlockImpl(int64_t dim, int64_t num_heads, int64_t mlp_dim,
                                                   int64_t downsample, bool skip_first_layer_pe)
    : skip_first_layer_pe_(skip_first_layer_pe) {
  auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5)); };
  self_attn = register_module("self_attn", Attention(dim, num_heads));
  norm1 = register_module("norm1", ln());
  cross_attn_token_to_image =
      register_module("cross_attn_token_to_image", Attention(dim, num_heads, downsample));
  norm2 = register_module("norm2", ln());
  mlp = register_module("mlp", MLPBlock(dim, mlp_dim, Activation::kReLU));
  norm3 = register_module("norm3", ln());
  norm4 = register_module("norm4", ln());
  cross_attn_image_to_token =
      register_module("cross_attn_image_to_token", Attention(dim, num_heads, downsample));
}

std::pair<torch::Tensor, torch::Tensor> TwoWayAttentionBlockImpl::forward(
    torch::Tensor queries, torch::Tensor keys, const torch::Tensor& query_pe,
    const torch::Tensor& key_pe) {
  // (1) self-attention of the tokens
  if (skip_first_layer_pe_) {
    queries = self_attn->forward(queries, queries, queries);
  } else {
    torch::Tensor q = queries + query_pe;
    queries = queries + self_attn->forward(q, q, queries);
  }
  queries = norm1->forward(queries);
  // (2) tokens attend to the image
  torch::Tensor q = queries + query_pe;
  torch::Tensor k = keys + key_pe;
  queries = norm2->forward(queries + cross_attn_token_to_image->forward(q, k, keys));
  // (3) MLP on the tokens
  queries = norm3->forward(queries + mlp->forward(queries));
  // (4) the image attends to the tokens
  q = queries + query_pe;
  k = keys + key_pe;
  keys = norm4->forward(keys + cross_attn_image_to_token->forward(k, q, queries));
  return {queries, keys};
}

TwoWayTransformerImpl::TwoWayTransformerImpl(const TwoWayTransformerOptions& o) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.depth; ++i)
    layers->push_back(TwoWayAttentionBlock(o.embedding_dim, o.num_heads, o.mlp_dim,
                                           o.attention_downsample_rate,
                                           /*skip_first_layer_pe=*/i == 0));
  final_attn_token_to_image =
      register_module("final_attn_token_to_image",
                      Attention(o.embedding_dim, o.num_heads, o.attention_downsample_rate));
  norm_final_attn = register_module(
      "norm_final_attn",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.embedding_dim}).eps(1e-5)));
}

std::pair<torch::Tensor, torch::Tensor> TwoWayTransformerImpl::forward(
    const torch::Tensor& image_embedding, const torch::Tensor& image_pe,
    const torch::Tensor& point_embedding) {
  // B C h w -> B (h w) C
  torch::Tensor keys = image_embedding.flatten(2).permute({0, 2, 1});
  torch::Tensor key_pe = image_pe.flatten(2).permute({0, 2, 1});
  torch::Tensor queries = point_embedding;
  for (const auto& m : *layers)
    std::tie(queries, keys) =
        m->as<TwoWayAttentionBlock>()->forward(queries, keys, point_embedding, key_pe);
  torch::Tensor q = queries + point_embedding;
  torch::Tensor k = keys + key_pe;
  queries = norm_final_attn->forward(queries + final_attn_token_to_image->forward(q, k, keys));
  return {queries, keys};
}

}  // namespace rd::sam
