#include "model/sam_mask_decoder.h"

#include "common/error.h"

namespace rd::sam {

MLPImpl::MLPImpl(int64_t input_dim, int64_t hidden_dim, int64_t output_dim, int64_t num_layers,
                 bool sigmoid_output)
    : sigmoid_output_(sigmoid_output) {
  READ_CHECK(num_layers >= 1, "SAM MLP: num_layers must be >= 1");
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_layers; ++i)
    layers->push_back(torch::nn::Linear(i == 0 ? input_dim : hidden_dim,
                                        i == num_layers - 1 ? output_dim : hidden_dim));
}

torch::Tensor MLPImpl::forward(torch::Tensor x) {
  const size_t n = layers->size();
  for (size_t i = 0; i < n; ++i) {
    x = layers[i]->as<torch::nn::Linear>()->forward(x);
    if (i + 1 < n) x = torch::relu(x);
  }
  return sigmoid_output_ ? torch::sigmoid(x) : x;
}

MaskDecoderImpl::MaskDecoderImpl(const MaskDecoderOptions& o)
    : num_mask_tokens_(o.num_multimask_outputs + 1) {
  const int64_t C = o.transformer_dim;
  READ_CHECK(o.transformer.embedding_dim == C, "SAM mask decoder: transformer width ",
             o.transformer.embedding_dim, " != transformer_dim ", C);
  READ_CHECK(C % 8 == 0, "SAM mask decoder: transformer_dim ", C, " must be a multiple of 8");
  iou_token = register_module("iou_token", torch::nn::Embedding(1, C));
  mask_tokens = register_module("mask_tokens", torch::nn::Embedding(num_mask_tokens_, C));
  transformer = register_module("transformer", TwoWayTransformer(o.transformer));
  output_upscaling = register_module(
      "output_upscaling",
      torch::nn::Sequential(
          torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(C, C / 4, 2).stride(2)),
          LayerNorm2d(C / 4, o.layernorm2d_eps), torch::nn::GELU(),
          torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(C / 4, C / 8, 2).stride(2)),
          torch::nn::GELU()));
  output_hypernetworks_mlps = register_module("output_hypernetworks_mlps", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_mask_tokens_; ++i)
    output_hypernetworks_mlps->push_back(MLP(C, C, C / 8, 3));
  iou_prediction_head = register_module(
      "iou_prediction_head", MLP(C, o.iou_head_hidden_dim, num_mask_tokens_, o.iou_head_depth));
}

namespace {
// LibTorch 1.13's oneDNN path rejects bf16/fp16 transposed convolutions on
// CPU with a bogus channel-count error; there they run in fp32 (then cast
// back), which is also what the bf16 result approximates.
torch::Tensor conv_transpose(torch::nn::ConvTranspose2dImpl& m, const torch::Tensor& x) {
  const bool reduced = x.scalar_type() == torch::kBFloat16 || x.scalar_type() == torch::kHalf;
  if (!(reduced && x.device().is_cpu())) return m.forward(x);
  namespace F = torch::nn::functional;
  return F::conv_transpose2d(x.to(torch::kFloat32), m.weight.to(torch::kFloat32),
                             F::ConvTranspose2dFuncOptions()
                                 .bias(m.bias.to(torch::kFloat32))
                                 .stride(m.options.stride()))
      .to(x.scalar_type());
}
}  // namespace

torch::Tensor MaskDecoderImpl::upscale(const torch::Tensor& src) {
  // output_upscaling: ConvTranspose2d(C, C/4, 2, 2), LayerNorm2d, GELU,
  // ConvTranspose2d(C/4, C/8, 2, 2), GELU
  torch::Tensor x = conv_transpose(*output_upscaling[0]->as<torch::nn::ConvTranspose2d>(), src);
  x = torch::gelu(output_upscaling[1]->as<LayerNorm2d>()->forward(x));
  x = conv_transpose(*output_upscaling[3]->as<torch::nn::ConvTranspose2d>(), x);
  return torch::gelu(x);
}

MaskDecoderOutput MaskDecoderImpl::forward(const torch::Tensor& image_embeddings,
                                           const torch::Tensor& image_pe,
                                           const torch::Tensor& sparse, const torch::Tensor& dense,
                                           bool multimask_output) {
  const int64_t B = sparse.size(0);
  READ_CHECK(image_embeddings.dim() == 4 &&
                 (image_embeddings.size(0) == 1 || image_embeddings.size(0) == B),
             "SAM mask decoder: image_embeddings must be [1 or ", B, ", C, h, w], got ",
             image_embeddings.sizes());
  READ_CHECK(dense.dim() == 4 && dense.size(0) == B &&
                 dense.sizes().slice(1) == image_embeddings.sizes().slice(1),
             "SAM mask decoder: dense prompt ", dense.sizes(), " does not match image_embeddings ",
             image_embeddings.sizes(), " for ", B, " prompts");

  // tokens = [iou; mask tokens; sparse prompt]
  torch::Tensor output_tokens = torch::cat({iou_token->weight, mask_tokens->weight}, 0);
  output_tokens = output_tokens.unsqueeze(0).expand({B, -1, -1});
  torch::Tensor tokens = torch::cat({output_tokens, sparse}, 1);

  // The reference repeat_interleaves a single image's embedding to B rows.
  torch::Tensor src =
      image_embeddings.size(0) == B ? image_embeddings : image_embeddings.expand({B, -1, -1, -1});
  src = src + dense;
  torch::Tensor pos_src = image_pe.expand({B, -1, -1, -1});
  const int64_t c = src.size(1), h = src.size(2), w = src.size(3);

  auto [hs, keys] = transformer->forward(src, pos_src, tokens);
  torch::Tensor iou_token_out = hs.select(1, 0);
  torch::Tensor mask_tokens_out = hs.slice(1, 1, 1 + num_mask_tokens_);

  torch::Tensor upscaled = upscale(keys.transpose(1, 2).reshape({B, c, h, w}));
  std::vector<torch::Tensor> hyper_in_list;
  for (int64_t i = 0; i < num_mask_tokens_; ++i)
    hyper_in_list.push_back(
        output_hypernetworks_mlps[i]->as<MLP>()->forward(mask_tokens_out.select(1, i)));
  torch::Tensor hyper_in = torch::stack(hyper_in_list, 1);
  const int64_t uc = upscaled.size(1), uh = upscaled.size(2), uw = upscaled.size(3);
  torch::Tensor masks =
      torch::matmul(hyper_in, upscaled.view({B, uc, uh * uw})).view({B, -1, uh, uw});
  torch::Tensor iou_pred = iou_prediction_head->forward(iou_token_out);

  MaskDecoderOutput out;
  if (multimask_output) {
    out.low_res_masks = masks.slice(1, 1);
    out.iou_predictions = iou_pred.slice(1, 1);
  } else {
    out.low_res_masks = masks.slice(1, 0, 1);
    out.iou_predictions = iou_pred.slice(1, 0, 1);
  }
  out.transformer_queries = hs;
  out.transformer_keys = keys;
  return out;
}

}  // namespace rd::sam
