// LLaVA's multimodal projector (llava/model/multimodal_projector/builder.py):
// "mlp{N}x_gelu" = Linear(mm_hidden, D), then N-1 x [GELU (exact erf form),
// Linear(D, D)] as an nn.Sequential, so the keys are mm_projector.0.*,
// mm_projector.2.*, ...; "linear" = one nn.Linear (mm_projector.weight/bias).
// LLaVA-1.5 and READ use mlp2x_gelu.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace rd {

class MmProjectorImpl : public torch::nn::Module {
 public:
  MmProjectorImpl(const std::string& type, int64_t mm_hidden_size, int64_t hidden_size);
  torch::Tensor forward(const torch::Tensor& x);  // [..., mm_hidden] -> [..., D]
  const std::string& type() const { return type_; }

 private:
  std::string type_;
  std::vector<torch::nn::Linear> linears_;  // mlp: registered as "0", "2", ...
  torch::Tensor weight_, bias_;             // linear: registered as "weight", "bias"
};
TORCH_MODULE(MmProjector);

}  // namespace rd
