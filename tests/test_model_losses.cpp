// Losses (model/losses.h): against independent scalar hand computations, the
// edge cases (all targets ignored, batches without masks) and the mask losses
// of every read_forward fixture case.
#include <cmath>

#include "common/config_reader.h"
#include "model/losses.h"
#include "tests/harness/fixtures.h"

using rd::testing::FixtureCase;

namespace {

double bce_scalar(double x, double y) {  // log(1 + e^x) - x y, stable
  return std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
}
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Scalar loops over an [M, H, W] pair: per-mask BCE mean and dice.
std::pair<std::vector<double>, std::vector<double>> hand_mask_losses(const torch::Tensor& p,
                                                                     const torch::Tensor& g) {
  auto pa = p.to(torch::kFloat64).contiguous(), ga = g.to(torch::kFloat64).contiguous();
  const double* pp = pa.data_ptr<double>();
  const double* gg = ga.data_ptr<double>();
  int64_t M = p.size(0), n = p.size(1) * p.size(2);
  std::vector<double> bce(M), dice(M);
  for (int64_t m = 0; m < M; ++m) {
    double b = 0, sy = 0, s = 0, y = 0;
    for (int64_t i = 0; i < n; ++i) {
      double x = pp[m * n + i], t = gg[m * n + i];
      b += bce_scalar(x, t);
      s += sigmoid(x);
      sy += sigmoid(x) * t;
      y += t;
    }
    bce[m] = b / n;
    dice[m] = 1 - (2 * sy / 1000 + 1e-6) / (s / 1000 + y / 1000 + 1e-6);
  }
  return {bce, dice};
}

}  // namespace

TEST(Losses, ShiftedCrossEntropyIsTheTokenMean) {
  torch::manual_seed(3);
  torch::Tensor logits = torch::randn({2, 5, 7}, torch::kFloat64);
  // Row 0 supervises positions 2,3 (predicted from 1,2); row 1 positions 1..4.
  // labels[:, 0] is never a target (nothing predicts it).
  torch::Tensor labels = torch::tensor({{4, -100, 3, 6, -100}, {-100, 0, 5, 1, 2}}, torch::kInt64);
  auto la = logits.accessor<double, 3>();
  auto lb = labels.accessor<int64_t, 2>();
  double sum = 0;
  int count = 0;
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t + 1 < 5; ++t) {
      int64_t y = lb[b][t + 1];
      if (y == -100) continue;
      double z = 0;
      for (int v = 0; v < 7; ++v) z += std::exp(la[b][t][v]);
      sum += std::log(z) - la[b][t][y];
      ++count;
    }
  ASSERT_EQ(count, 6);
  torch::Tensor got = rd::shifted_cross_entropy(logits, labels);
  EXPECT_NEAR(got.item<double>(), sum / count, 1e-6);  // computed in float32
  // Changing an ignored position's logits or the first label changes nothing.
  torch::Tensor l2 = logits.clone();
  l2[0][0] += 5.0;  // predicts labels[0][1] = -100
  torch::Tensor lab2 = labels.clone();
  lab2[1][0] = 3;
  EXPECT_NEAR(rd::shifted_cross_entropy(l2, lab2).item<double>(), sum / count, 1e-6);
}

TEST(Losses, CrossEntropyGradientMatchesFullComputation) {
  torch::manual_seed(4);
  torch::Tensor logits = torch::randn({2, 6, 9}).requires_grad_(true);
  torch::Tensor labels = torch::randint(0, 9, {2, 6}, torch::kInt64);
  labels.index_put_({0, torch::indexing::Slice(0, 3)}, -100);
  rd::shifted_cross_entropy(logits, labels).backward();
  torch::Tensor ref_logits = logits.detach().clone().requires_grad_(true);
  namespace F = torch::nn::functional;
  torch::Tensor ref = F::cross_entropy(
      ref_logits.narrow(1, 0, 5).reshape({-1, 9}), labels.narrow(1, 1, 5).reshape({-1}),
      F::CrossEntropyFuncOptions().ignore_index(-100));
  ref.backward();
  EXPECT_TRUE(torch::allclose(logits.grad(), ref_logits.grad(), 1e-6, 1e-7));
}

TEST(Losses, AllTargetsIgnoredGivesZeroNotNaN) {
  torch::Tensor logits = torch::randn({2, 4, 5}).requires_grad_(true);
  torch::Tensor labels = torch::full({2, 4}, -100, torch::kInt64);
  torch::Tensor ce = rd::shifted_cross_entropy(logits, labels);
  EXPECT_EQ(ce.item<double>(), 0.0);
  ce.backward();
  EXPECT_TRUE(logits.grad().eq(0).all().item<bool>());
  // Length-1 sequences have no targets at all.
  EXPECT_EQ(rd::shifted_cross_entropy(torch::randn({1, 1, 5}), torch::zeros({1, 1}, torch::kInt64)).item<double>(), 0.0);
}

TEST(Losses, CrossEntropyRejectsBadInputs) {
  EXPECT_THROW(rd::shifted_cross_entropy(torch::randn({2, 4, 5}), torch::zeros({2, 3}, torch::kInt64)), rd::Error);
  EXPECT_THROW(rd::shifted_cross_entropy(torch::randn({1, 3, 5}), torch::tensor({{0, 7, 1}})), rd::Error);
}

TEST(Losses, PerMaskBceAndDiceMatchHandComputation) {
  torch::manual_seed(5);
  torch::Tensor pred = torch::randn({3, 7, 5}) * 4;
  torch::Tensor gt = torch::rand({3, 7, 5}).gt(0.6).to(torch::kFloat32);
  gt[2].zero_();  // an empty ground-truth mask
  auto [bce, dice] = hand_mask_losses(pred, gt);
  torch::Tensor b = rd::sigmoid_bce_per_mask(pred, gt), d = rd::dice_per_mask(pred, gt);
  ASSERT_EQ(b.sizes(), (std::vector<int64_t>{3}));
  for (int m = 0; m < 3; ++m) {
    EXPECT_NEAR(b[m].item<double>(), bce[m], 1e-6);
    EXPECT_NEAR(d[m].item<double>(), dice[m], 1e-6);
  }
  // Perfect, confident prediction: dice ~ 0; all-wrong: dice ~ 1.
  torch::Tensor y = torch::zeros({1, 4, 4});
  y[0][1][1] = 1;
  EXPECT_NEAR(rd::dice_per_mask(y * 40 - 20, y)[0].item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(rd::dice_per_mask(20 - y * 40, y)[0].item<double>(), 1.0, 1e-4);
  EXPECT_THROW(rd::sigmoid_bce_per_mask(torch::zeros({1, 4, 4}), torch::zeros({1, 4, 5})), rd::Error);
}

TEST(Losses, ReadLossesAverageOverAllMasksOfTheBatch) {
  torch::manual_seed(6);
  std::vector<torch::Tensor> pred = {torch::randn({2, 6, 8}), torch::randn({0, 5, 5}), torch::randn({1, 4, 9})};
  std::vector<torch::Tensor> gt = {torch::rand({2, 6, 8}).gt(0.5).to(torch::kFloat32), torch::zeros({0, 5, 5}),
                                   torch::rand({1, 4, 9}).gt(0.5).to(torch::kFloat32)};
  double bsum = 0, dsum = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    auto [b, d] = hand_mask_losses(pred[i], gt[i]);
    for (double v : b) bsum += v;
    for (double v : d) dsum += v;
  }
  rd::LossWeights w;  // 1.0 / 2.0 / 0.5
  torch::Tensor ce = torch::tensor(1.25f);
  rd::ReadLosses L = rd::read_losses(ce, pred, gt, w);
  EXPECT_EQ(L.num_masks, 3);
  EXPECT_NEAR(L.ce_loss.item<double>(), 1.25, 1e-7);
  EXPECT_NEAR(L.mask_bce_loss.item<double>(), 2.0 * bsum / 3, 1e-6);
  EXPECT_NEAR(L.mask_dice_loss.item<double>(), 0.5 * dsum / 3, 1e-6);
  EXPECT_NEAR(L.mask_loss.item<double>(), 2.0 * bsum / 3 + 0.5 * dsum / 3, 1e-6);
  EXPECT_NEAR(L.loss.item<double>(), 1.25 + 2.0 * bsum / 3 + 0.5 * dsum / 3, 1e-6);
  // Other weights scale each part.
  rd::ReadLosses L2 = rd::read_losses(ce, pred, gt, rd::LossWeights{0.5, 1.0, 4.0});
  EXPECT_NEAR(L2.loss.item<double>(), 0.625 + bsum / 3 + 4.0 * dsum / 3, 1e-6);
  // Mismatched mask counts are named.
  EXPECT_THROW(rd::read_losses(ce, {torch::randn({2, 3, 3})}, {torch::zeros({1, 3, 3})}), rd::Error);
}

TEST(Losses, BatchWithoutMasksAddsZeroMaskLoss) {
  torch::Tensor logits = torch::randn({1, 4, 5}).requires_grad_(true);
  torch::Tensor ce = rd::shifted_cross_entropy(logits, torch::tensor({{1, 2, 3, 4}}));
  rd::ReadLosses L = rd::read_losses(ce, {torch::zeros({0, 6, 6})}, {torch::zeros({0, 6, 6})});
  EXPECT_EQ(L.num_masks, 0);
  EXPECT_EQ(L.mask_loss.item<double>(), 0.0);
  EXPECT_EQ(L.mask_bce_loss.item<double>(), 0.0);
  EXPECT_FLOAT_EQ(L.loss.item<float>(), ce.item<float>());
  L.loss.backward();
  EXPECT_GT(logits.grad().abs().sum().item<double>(), 0.0);
  rd::ReadLosses E = rd::read_losses(ce.detach(), {}, {});
  EXPECT_EQ(E.mask_loss.item<double>(), 0.0);
}

TEST(Losses, MaskGradientsFlowToPredictions) {
  torch::Tensor pred = torch::randn({2, 4, 4}).requires_grad_(true);
  torch::Tensor gt = torch::rand({2, 4, 4}).gt(0.5).to(torch::kFloat32);
  rd::read_losses(torch::tensor(0.0f), {pred}, {gt}).loss.backward();
  EXPECT_TRUE(pred.grad().defined());
  EXPECT_GT(pred.grad().abs().sum().item<double>(), 0.0);
}

TEST(Losses, WeightsFromYaml) {
  YAML::Node n = YAML::Load("dice_loss_weight: 4.0\n");
  rd::ConfigReader r(n, "t.yaml");
  rd::LossWeights w = rd::LossWeights::read(r);
  EXPECT_DOUBLE_EQ(w.ce, 1.0);
  EXPECT_DOUBLE_EQ(w.bce, 2.0);
  EXPECT_DOUBLE_EQ(w.dice, 4.0);
  YAML::Node bad = YAML::Load("bce_weight: 1.0\n");
  rd::ConfigReader rb(bad, "b.yaml");
  EXPECT_THROW(rd::LossWeights::read(rb), rd::Error);
}

// The mask losses of every read_forward case from its stored predicted and
// ground-truth masks (and the *_fixed twins of the size-bug case).
TEST(Losses, ReadForwardMaskLosses) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("read_forward")) {
    SCOPED_TRACE(c.name());
    const auto& lw = c.config().at("loss_weights");
    rd::LossWeights w{lw.at("ce_loss_weight").get<double>(), lw.at("bce_loss_weight").get<double>(),
                      lw.at("dice_loss_weight").get<double>()};
    int64_t B = c.config().at("num_images").get<int64_t>();
    for (std::string suffix : {"", "_fixed"}) {
      if (!suffix.empty() && !c.expected().count("mask_loss" + suffix)) continue;
      SCOPED_TRACE("variant '" + suffix + "'");
      auto name = [&](const std::string& base) {
        return c.expected().count(base + suffix) ? base + suffix : base;
      };
      std::vector<torch::Tensor> pred, gt;
      for (int64_t i = 0; i < B; ++i) {
        pred.push_back(c.want(name("pred_masks_" + std::to_string(i))));
        gt.push_back(c.input("masks_" + std::to_string(i)));
      }
      torch::Tensor ce = c.want("ce_loss") / w.ce;
      rd::ReadLosses L = rd::read_losses(ce, pred, gt, w);
      EXPECT_MATCHES(c, name("mask_bce_loss"), L.mask_bce_loss);
      EXPECT_MATCHES(c, name("mask_dice_loss"), L.mask_dice_loss);
      EXPECT_MATCHES(c, name("mask_loss"), L.mask_loss);
      EXPECT_MATCHES(c, name("loss"), L.loss);
      EXPECT_MATCHES(c, "ce_loss", L.ce_loss);
    }
  }
}
