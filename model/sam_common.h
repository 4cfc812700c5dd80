// Building blocks shared by SAM's image encoder and mask decoder
// (segment_anything/modeling/common.py): MLPBlock and LayerNorm2d.
#pragma once
#include <torch/torch.h>

namespace rd::sam {

enum class Activation { kGELU, kReLU };  // nn.GELU is the exact (erf) GELU

torch::Tensor activate(const torch::Tensor& x, Activation act);

// lin1 -> act -> lin2 (keys `lin1.*`, `lin2.*`).
class MLPBlockImpl : public torch::nn::Module {
 public:
  MLPBlockImpl(int64_t embedding_dim, int64_t mlp_dim, Activation act);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear lin1{nullptr}, lin2{nullptr};

 private:
  Activation act_;
};
TORCH_MODULE(MLPBlock);

// LayerNorm over the channel dimension of an NCHW tensor (keys `weight`,
// `bias`), computed as the reference does: (x - mean) / sqrt(var + eps) with
// the biased variance, then the per-channel affine map.
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  explicit LayerNorm2dImpl(int64_t num_channels, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight, bias;

 private:
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

}  // namespace rd::sam
