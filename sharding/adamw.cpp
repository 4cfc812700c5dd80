#include "sharding/adamw.h"

#include <cmath>

#include "common/error.h"

namespace rd {

void adamw_update(const torch::Tensor& param, const torch::Tensor& grad,
                  const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq, int64_t step,
                  double lr, const AdamWConfig& cfg) {
  READ_CHECK(step >= 1, "adamw: step ", step, " (1-based)");
  torch::NoGradGuard no_grad;
  if (cfg.weight_decay != 0) param.mul_(1 - lr * cfg.weight_decay);
  exp_avg.mul_(cfg.beta1).add_(grad, 1 - cfg.beta1);
  exp_avg_sq.mul_(cfg.beta2).addcmul_(grad, grad, 1 - cfg.beta2);
  const double bias_correction1 = 1 - std::pow(cfg.beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(cfg.beta2, static_cast<double>(step));
  torch::Tensor denom = (exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(cfg.eps);
  param.addcdiv_(exp_avg, denom, -lr / bias_correction1);
}

}  // namespace rd
