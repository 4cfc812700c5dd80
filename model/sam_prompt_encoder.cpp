#include "model/sam_prompt_encoder.h"

#include <cmath>

#include "common/error.h"

namespace rd::sam {

PositionEmbeddingRandomImpl::PositionEmbeddingRandomImpl(int64_t num_pos_feats) {
  // Random at construction like the reference (scale 1); real weights load it.
  positional_encoding_gaussian_matrix =
      register_buffer("positional_encoding_gaussian_matrix", torch::randn({2, num_pos_feats}));
}

torch::Tensor PositionEmbeddingRandomImpl::pe_encoding(const torch::Tensor& coords01) {
  // Same operation order as the reference (2c - 1, @ G, * 2pi) for parity.
  torch::Tensor c = 2 * coords01 - 1;
  c = torch::matmul(c, positional_encoding_gaussian_matrix);
  c = (2 * M_PI) * c;
  return torch::cat({torch::sin(c), torch::cos(c)}, -1);
}

torch::Tensor PositionEmbeddingRandomImpl::forward(int64_t h, int64_t w) {
  const torch::Tensor& G = positional_encoding_gaussian_matrix;
  torch::Tensor grid = torch::ones({h, w}, G.options());
  torch::Tensor y_embed = (grid.cumsum(0) - 0.5) / double(h);
  torch::Tensor x_embed = (grid.cumsum(1) - 0.5) / double(w);
  return pe_encoding(torch::stack({x_embed, y_embed}, -1)).permute({2, 0, 1});  // C x H x W
}

torch::Tensor PositionEmbeddingRandomImpl::forward_with_coords(
    const torch::Tensor& coords, std::pair<int64_t, int64_t> image_hw) {
  // The reference clones and assigns columns; dividing the columns and
  // stacking them is the same arithmetic without in-place writes (autograd).
  torch::Tensor x = coords.select(-1, 0) / double(image_hw.second);
  torch::Tensor y = coords.select(-1, 1) / double(image_hw.first);
  // The reference casts to float32 (the matrix's dtype in fp32 models).
  return pe_encoding(
      torch::stack({x, y}, -1).to(positional_encoding_gaussian_matrix.scalar_type()));
}

PromptEncoderImpl::PromptEncoderImpl(PromptEncoderOptions o) : o_(std::move(o)) {
  const int64_t D = o_.embed_dim;
  READ_CHECK(D % 2 == 0, "SAM prompt encoder: embed_dim ", D, " must be even");
  READ_CHECK(o_.mask_in_chans % 4 == 0, "SAM prompt encoder: mask_in_chans ", o_.mask_in_chans,
             " must be a multiple of 4");
  pe_layer = register_module("pe_layer", PositionEmbeddingRandom(D / 2));
  point_embeddings = register_module("point_embeddings", torch::nn::ModuleList());
  for (int i = 0; i < 4; ++i) point_embeddings->push_back(torch::nn::Embedding(1, D));
  not_a_point_embed = register_module("not_a_point_embed", torch::nn::Embedding(1, D));
  // Only used for mask prompts, which READ never gives; kept so that SAM
  // checkpoints load key for key.
  const int64_t c4 = o_.mask_in_chans / 4, c = o_.mask_in_chans;
  mask_downscaling = register_module(
      "mask_downscaling",
      torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, c4, 2).stride(2)),
                            LayerNorm2d(c4, o_.layernorm2d_eps), torch::nn::GELU(),
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(c4, c, 2).stride(2)),
                            LayerNorm2d(c, o_.layernorm2d_eps), torch::nn::GELU(),
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(c, D, 1))));
  no_mask_embed = register_module("no_mask_embed", torch::nn::Embedding(1, D));
}

torch::Tensor PromptEncoderImpl::point_embedding(int i) {
  return point_embeddings[i]->as<torch::nn::Embedding>()->weight;  // [1, D]
}

torch::Tensor PromptEncoderImpl::get_dense_pe() {
  return pe_layer->forward(o_.image_embedding_size.first, o_.image_embedding_size.second)
      .unsqueeze(0);
}

torch::Tensor PromptEncoderImpl::embed_points(const torch::Tensor& points0,
                                              const torch::Tensor& labels0, bool pad) {
  READ_CHECK(points0.dim() == 3 && points0.size(2) == 2,
             "SAM prompt encoder: points must be [B, K, 2], got ", points0.sizes());
  READ_CHECK(labels0.defined() && labels0.dim() == 2 && labels0.size(0) == points0.size(0) &&
                 labels0.size(1) == points0.size(1),
             "SAM prompt encoder: labels must be [B, K] matching points ", points0.sizes(),
             ", got ", labels0.defined() ? labels0.sizes() : at::IntArrayRef{});
  torch::Tensor points = points0 + 0.5;  // shift to the pixel centre
  // READ passes int32 labels and the reference concatenates a float padding
  // label; the label values are what matter, compared here as int64.
  torch::Tensor labels = labels0.to(torch::kLong);
  if (pad) {
    points = torch::cat({points, torch::zeros({points.size(0), 1, 2}, points.options())}, 1);
    labels = torch::cat({labels, torch::full({labels.size(0), 1}, -1, labels.options())}, 1);
  }
  torch::Tensor pe = pe_layer->forward_with_coords(points, o_.input_image_size);
  torch::Tensor l = labels.unsqueeze(-1);
  // label -1: PE replaced by not_a_point_embed; 0 / 1: + point_embeddings[0/1];
  // other labels (2, 3 are box corners in SAM) keep the bare PE.
  pe = torch::where(l == -1, not_a_point_embed->weight.expand_as(pe), pe);
  pe = torch::where(l == 0, pe + point_embedding(0), pe);
  pe = torch::where(l == 1, pe + point_embedding(1), pe);
  return pe;
}

torch::Tensor PromptEncoderImpl::embed_boxes(const torch::Tensor& boxes) {
  READ_CHECK(boxes.size(-1) == 4, "SAM prompt encoder: boxes must be [B, 4], got ", boxes.sizes());
  torch::Tensor coords = (boxes + 0.5).reshape({-1, 2, 2});
  torch::Tensor corner = pe_layer->forward_with_coords(coords, o_.input_image_size);
  return torch::cat(
      {corner.slice(1, 0, 1) + point_embedding(2), corner.slice(1, 1, 2) + point_embedding(3)}, 1);
}

torch::Tensor PromptEncoderImpl::embed_masks(const torch::Tensor& masks) {
  const auto [h, w] = o_.image_embedding_size;
  READ_CHECK(
      masks.dim() == 4 && masks.size(1) == 1 && masks.size(2) == 4 * h && masks.size(3) == 4 * w,
      "SAM prompt encoder: mask prompts must be [B, 1, ", 4 * h, ", ", 4 * w, "], got ",
      masks.sizes());
  return mask_downscaling->forward(masks);
}

PromptEmbeddings PromptEncoderImpl::forward(const torch::Tensor& points,
                                            const torch::Tensor& labels, const torch::Tensor& boxes,
                                            const torch::Tensor& masks,
                                            const torch::Tensor& text_embeds) {
  const int64_t D = o_.embed_dim;
  int64_t bs = 1;
  if (points.defined())
    bs = points.size(0);
  else if (boxes.defined())
    bs = boxes.size(0);
  else if (masks.defined())
    bs = masks.size(0);
  else if (text_embeds.defined())
    bs = text_embeds.size(0);

  const torch::Tensor& w = no_mask_embed->weight;
  std::vector<torch::Tensor> sparse{torch::empty({bs, 0, D}, w.options())};
  if (points.defined()) sparse.push_back(embed_points(points, labels, /*pad=*/!boxes.defined()));
  if (boxes.defined()) sparse.push_back(embed_boxes(boxes));
  if (text_embeds.defined()) {
    READ_CHECK(text_embeds.dim() == 3 && text_embeds.size(0) == bs && text_embeds.size(2) == D,
               "SAM prompt encoder: text_embeds must be [", bs, ", T, ", D, "], got ",
               text_embeds.sizes());
    sparse.push_back(text_embeds);
  }
  for (const auto& s : sparse)
    READ_CHECK(s.size(0) == bs, "SAM prompt encoder: prompts disagree on the batch size (", bs,
               " vs ", s.size(0), ")");

  PromptEmbeddings out;
  out.sparse = torch::cat(sparse, 1);
  if (masks.defined()) {
    out.dense = embed_masks(masks);
  } else {
    const auto [h, wd] = o_.image_embedding_size;
    out.dense = w.reshape({1, -1, 1, 1}).expand({bs, -1, h, wd});
  }
  return out;
}

}  // namespace rd::sam
