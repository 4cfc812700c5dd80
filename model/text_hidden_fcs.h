// READ's text_hidden_fcs (model/READ.py, READMetaModel.initialize_lisa_modules):
// nn.ModuleList([nn.Sequential(Linear(D, D), ReLU, Linear(D, out_dim),
// Dropout(0.0))]), so the checkpoint keys are text_hidden_fcs.0.0.{weight,bias}
// and text_hidden_fcs.0.2.{weight,bias}. It maps the [SEG] hidden state to the
// SAM prompt width (out_dim = 256). Fresh modules use nn.Linear's default
// init (kaiming-uniform weights, uniform biases), as the reference.
#pragma once
#include <torch/torch.h>

namespace rd {

class TextHiddenFcsImpl : public torch::nn::Module {
 public:
  TextHiddenFcsImpl(int64_t hidden_size, int64_t out_dim);
  torch::Tensor forward(const torch::Tensor& x);  // [..., D] -> [..., out_dim]
  int64_t out_dim() const { return out_dim_; }

 private:
  torch::nn::Sequential fc_{nullptr};
  int64_t out_dim_;
};
TORCH_MODULE(TextHiddenFcs);

}  // namespace rd
