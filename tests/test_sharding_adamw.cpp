// adamw_update against LibTorch's torch::optim::AdamW, step for step, with
// weight decay and a changing learning rate.
#include <gtest/gtest.h>

#include "common/error.h"
#include "sharding/adamw.h"

namespace {

TEST(AdamW, MatchesTorchOptimAdamW) {
  torch::manual_seed(3);
  const torch::Tensor init = torch::randn({37});
  rd::AdamWConfig cfg;
  cfg.beta1 = 0.9;
  cfg.beta2 = 0.95;
  cfg.eps = 1e-8;
  cfg.weight_decay = 0.05;

  torch::Tensor p_ref = init.clone().requires_grad_(true);
  torch::optim::AdamW ref({p_ref}, torch::optim::AdamWOptions(1e-3)
                                       .betas({cfg.beta1, cfg.beta2})
                                       .eps(cfg.eps)
                                       .weight_decay(cfg.weight_decay));
  torch::Tensor p = init.clone(), m = torch::zeros_like(p), v = torch::zeros_like(p);
  double worst = 0;
  for (int step = 1; step <= 20; ++step) {
    const double lr = 1e-3 * step / 7.0;
    // Gradients from tiny to large, a few exact zeros.
    torch::Tensor g = torch::randn({37}) * std::pow(10.0, step % 5 - 3);
    g.index_put_({torch::indexing::Slice(0, 3)}, 0.0);
    p_ref.mutable_grad() = g.clone();
    static_cast<torch::optim::AdamWOptions&>(ref.param_groups()[0].options()).lr(lr);
    ref.step();
    rd::adamw_update(p, g, m, v, step, lr, cfg);
    worst = std::max(worst, (p - p_ref.detach()).abs().max().item<double>());
  }
  std::printf("[ adamw ] max |ours - torch| over 20 steps: %g\n", worst);
  EXPECT_LE(worst, 1e-7);
  const auto& st = static_cast<torch::optim::AdamWParamState&>(
      *ref.state().at(c10::guts::to_string(p_ref.unsafeGetTensorImpl())));
  EXPECT_TRUE(torch::allclose(m, st.exp_avg(), 1e-6, 1e-12));
  EXPECT_TRUE(torch::allclose(v, st.exp_avg_sq(), 1e-6, 1e-20));
}

TEST(AdamW, StepIsOneBased) {
  torch::Tensor p = torch::ones({2}), m = torch::zeros({2}), v = torch::zeros({2});
  EXPECT_THROW(rd::adamw_update(p, torch::ones({2}), m, v, 0, 1e-3, rd::AdamWConfig{}), rd::Error);
  // First step: bias-corrected m / sqrt(v) = sign(g), so p moves by lr.
  rd::adamw_update(p, torch::full({2}, 0.5), m, v, 1, 1e-3, rd::AdamWConfig{});
  EXPECT_NEAR(p[0].item<double>(), 1 - 1e-3, 1e-7);
}

}  // namespace
