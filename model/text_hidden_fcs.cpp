#include "model/text_hidden_fcs.h"

namespace rd {

TextHiddenFcsImpl::TextHiddenFcsImpl(int64_t hidden_size, int64_t out_dim) : out_dim_(out_dim) {
  fc_ = torch::nn::Sequential(torch::nn::Linear(hidden_size, hidden_size), torch::nn::ReLU(),
                              torch::nn::Linear(hidden_size, out_dim), torch::nn::Dropout(0.0));
  register_module("0", fc_);  // this module plays the ModuleList: child "0" is the Sequential
}

torch::Tensor TextHiddenFcsImpl::forward(const torch::Tensor& x) { return fc_->forward(x); }

}  // namespace rd
