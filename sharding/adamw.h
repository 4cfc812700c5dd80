// AdamW (Loshchilov & Hutter, decoupled weight decay) on flat fp32 buffers,
// step for step as torch.optim.AdamW (amsgrad off) in PyTorch 1.13:
//   p   *= 1 - lr * weight_decay
//   m    = beta1 * m + (1 - beta1) * g
//   v    = beta2 * v + (1 - beta2) * g * g
//   p   -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with t the 1-based step. The reference uses DeepSpeed's AdamW (FusedAdam in
// adam_w_mode), the same update up to rounding.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace rd {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;  // spec model.md section 7
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// One update of `param` (in place, with exp_avg and exp_avg_sq) from `grad`;
// `step` is the 1-based count including this update.
void adamw_update(const torch::Tensor& param, const torch::Tensor& grad,
                  const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq, int64_t step,
                  double lr, const AdamWConfig& cfg);

}  // namespace rd
