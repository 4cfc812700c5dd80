#include "model/sam_common.h"

namespace rd::sam {

torch::Tensor activate(const torch::Tensor& x, Activation act) {
  return act == Activation::kGELU ? torch::gelu(x) : torch::relu(x);
}

MLPBlockImpl::MLPBlockImpl(int64_t embedding_dim, int64_t mlp_dim, Activation act) : act_(act) {
  lin1 = register_module("lin1", torch::nn::Linear(embedding_dim, mlp_dim));
  lin2 = register_module("lin2", torch::nn::Linear(mlp_dim, embedding_dim));
}

torch::Tensor MLPBlockImpl::forward(const torch::Tensor& x) {
  return lin2->forward(activate(lin1->forward(x), act_));
}

LayerNorm2dImpl::LayerNorm2dImpl(int64_t num_channels, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({num_channels}));
  bias = register_parameter("bias", torch::zeros({num_channels}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  torch::Tensor u = x.mean(1, /*keepdim=*/true);
  torch::Tensor s = (x - u).pow(2).mean(1, /*keepdim=*/true);
  torch::Tensor y = (x - u) / torch::sqrt(s + eps_);
  return weight.view({-1, 1, 1}) * y + bias.view({-1, 1, 1});
}

}  // namespace rd::sam
