// SAM mask decoder (segment_anything/modeling/mask_decoder.py): an IoU token
// and num_multimask_outputs + 1 mask tokens are prepended to the sparse
// prompt, run through the two-way transformer with the image embedding
// (+ dense prompt), and each mask token's hypernetwork MLP turns the
// upscaled image features into mask logits. Names: `iou_token`,
// `mask_tokens`, `transformer.*`, `output_upscaling.{0,1,3}`,
// `output_hypernetworks_mlps.N.layers.{0,1,2}`, `iou_prediction_head.layers.*`.
#pragma once
#include <torch/torch.h>

#include "model/sam_common.h"
#include "model/sam_two_way_transformer.h"

namespace rd::sam {

// MLP of num_layers Linears with ReLU between them (mask_decoder.MLP).
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(int64_t input_dim, int64_t hidden_dim, int64_t output_dim, int64_t num_layers,
          bool sigmoid_output = false);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::ModuleList layers{nullptr};

 private:
  bool sigmoid_output_;
};
TORCH_MODULE(MLP);

struct MaskDecoderOptions {
  int64_t transformer_dim = 256;
  TwoWayTransformerOptions transformer;
  int64_t num_multimask_outputs = 3;
  int64_t iou_head_depth = 3;
  int64_t iou_head_hidden_dim = 256;
  double layernorm2d_eps = 1e-6;
};

struct MaskDecoderOutput {
  torch::Tensor low_res_masks;    // [B, 1 or num_multimask_outputs, 4h, 4w] logits
  torch::Tensor iou_predictions;  // [B, 1 or num_multimask_outputs]
  // The two-way transformer's outputs (tokens [B, 1 + M + N_sparse, C],
  // image tokens [B, h*w, C]), kept for inspection and parity tests.
  torch::Tensor transformer_queries, transformer_keys;
};

class MaskDecoderImpl : public torch::nn::Module {
 public:
  explicit MaskDecoderImpl(const MaskDecoderOptions& o);

  // image_embeddings [1 or B, C, h, w] (one image is repeated for the B
  // prompts, as the reference does); image_pe [1, C, h, w]; sparse [B, N, C];
  // dense [B, C, h, w]. multimask_output: masks 1..M, else mask 0 only.
  MaskDecoderOutput forward(const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
                            const torch::Tensor& sparse_prompt_embeddings,
                            const torch::Tensor& dense_prompt_embeddings, bool multimask_output);

  torch::nn::Embedding iou_token{nullptr}, mask_tokens{nullptr};
  TwoWayTransformer transformer{nullptr};
  torch::nn::Sequential output_upscaling{nullptr};
  torch::nn::ModuleList output_hypernetworks_mlps{nullptr};
  MLP iou_prediction_head{nullptr};

 private:
  torch::Tensor upscale(const torch::Tensor& src);  // output_upscaling
  int64_t num_mask_tokens_;
};
TORCH_MODULE(MaskDecoder);

}  // namespace rd::sam
