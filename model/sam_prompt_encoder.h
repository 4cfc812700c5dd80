// SAM prompt encoder, READ's variant (READ model/segment_anything/modeling/
// prompt_encoder.py: forward(points, boxes, masks, text_embeds)).
//
// Sparse prompt = [point tokens (+ one padding point (0,0), label -1, when
// there are points and no boxes), box corner tokens, text_embeds]; dense
// prompt = no_mask_embed broadcast to the embedding grid (or the downscaled
// mask when a mask prompt is given). Parameter names mirror the reference:
// `pe_layer.positional_encoding_gaussian_matrix` (a buffer),
// `point_embeddings.{0..3}.weight`, `not_a_point_embed.weight`,
// `mask_downscaling.{0,1,3,4,6}.*`, `no_mask_embed.weight`.
//
// Everything is differentiable in the point coordinates and text_embeds (READ
// backpropagates through the points' Fourier features): no in-place writes.
#pragma once
#include <torch/torch.h>

#include <utility>

#include "model/sam_common.h"

namespace rd::sam {

// Random Fourier features: for (x, y) in [0, 1] (x first),
// v = 2*pi*((2c - 1) @ G), PE = [sin v, cos v]; G is 2 x num_pos_feats.
class PositionEmbeddingRandomImpl : public torch::nn::Module {
 public:
  explicit PositionEmbeddingRandomImpl(int64_t num_pos_feats = 64);

  // Dense PE of an h x w grid at cell centres: [2*num_pos_feats, h, w].
  torch::Tensor forward(int64_t h, int64_t w);
  // coords [..., 2] in pixels of an image of size (h, w) -> [..., 2*num_pos_feats].
  torch::Tensor forward_with_coords(const torch::Tensor& coords,
                                    std::pair<int64_t, int64_t> image_hw);
  torch::Tensor pe_encoding(const torch::Tensor& coords01);

  torch::Tensor positional_encoding_gaussian_matrix;
};
TORCH_MODULE(PositionEmbeddingRandom);

struct PromptEncoderOptions {
  int64_t embed_dim = 256;
  std::pair<int64_t, int64_t> image_embedding_size{64, 64};
  std::pair<int64_t, int64_t> input_image_size{1024, 1024};
  int64_t mask_in_chans = 16;
  double layernorm2d_eps = 1e-6;
};

struct PromptEmbeddings {
  torch::Tensor sparse;  // [B, N_sparse, D]
  torch::Tensor dense;   // [B, D, h, w]
};

class PromptEncoderImpl : public torch::nn::Module {
 public:
  explicit PromptEncoderImpl(PromptEncoderOptions o);

  // All inputs optional (undefined tensor = None):
  //   points [B, K, 2] (x, y) in the input frame (before +0.5), float;
  //   labels [B, K] any integer or float dtype: 1 fg, 0 bg, -1 not a point;
  //   boxes [B, 4] (x0, y0, x1, y1); masks [B, 1, 4h, 4w] logits;
  //   text_embeds [B, T, D] (READ: [n, 1, D] pred_embeddings).
  // The batch size comes from points, else boxes, masks, text_embeds, else 1.
  PromptEmbeddings forward(const torch::Tensor& points, const torch::Tensor& labels,
                           const torch::Tensor& boxes, const torch::Tensor& masks,
                           const torch::Tensor& text_embeds);

  // READ's call: points (may be undefined) and text_embeds, no boxes/masks.
  PromptEmbeddings forward(const torch::Tensor& points, const torch::Tensor& labels,
                           const torch::Tensor& text_embeds) {
    return forward(points, labels, {}, {}, text_embeds);
  }

  // Dense PE of the image embedding grid: [1, D, h, w].
  torch::Tensor get_dense_pe();

  torch::Tensor embed_points(const torch::Tensor& points, const torch::Tensor& labels, bool pad);
  torch::Tensor embed_boxes(const torch::Tensor& boxes);
  torch::Tensor embed_masks(const torch::Tensor& masks);

  const PromptEncoderOptions& options() const { return o_; }

  PositionEmbeddingRandom pe_layer{nullptr};
  torch::nn::ModuleList point_embeddings{nullptr};  // 4 x Embedding(1, D): neg, pos, box corners
  torch::nn::Embedding not_a_point_embed{nullptr};
  torch::nn::Sequential mask_downscaling{nullptr};
  torch::nn::Embedding no_mask_embed{nullptr};

 private:
  torch::Tensor point_embedding(int i);
  PromptEncoderOptions o_;
};
TORCH_MODULE(PromptEncoder);

}  // namespace rd::sam
