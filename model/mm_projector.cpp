#include "model/mm_projector.h"

#include <regex>

#include "common/error.h"

namespace rd {

MmProjectorImpl::MmProjectorImpl(const std::string& type, int64_t mm_hidden, int64_t hidden) : type_(type) {
  std::smatch m;
  static const std::regex mlp_re("^mlp(\\d+)x_gelu$");
  if (type == "linear") {
    torch::nn::Linear l(mm_hidden, hidden);
    weight_ = register_parameter("weight", l->weight.detach().clone());
    bias_ = register_parameter("bias", l->bias.detach().clone());
  } else if (std::regex_match(type, m, mlp_re)) {
    const int depth = std::stoi(m[1].str());
    READ_CHECK(depth >= 1, "mm_projector_type '", type, "': depth must be >= 1");
    for (int i = 0; i < depth; ++i) {
      torch::nn::Linear l(i == 0 ? mm_hidden : hidden, hidden);
      linears_.push_back(register_module(std::to_string(2 * i), l));
    }
  } else {
    fail("unsupported mm_projector_type '", type, "' (linear | mlp<N>x_gelu)");
  }
}

torch::Tensor MmProjectorImpl::forward(const torch::Tensor& x) {
  if (type_ == "linear") return torch::nn::functional::linear(x, weight_, bias_);
  torch::Tensor h = linears_[0](x);
  for (size_t i = 1; i < linears_.size(); ++i) h = linears_[i](torch::gelu(h));  // nn.GELU(): erf form
  return h;
}

}  // namespace rd
