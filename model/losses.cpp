// READ training losses (spec/model.md section 5).
#include "model/losses.h"

#include "common/config_reader.h"
#include "common/error.h"

namespace rd {
namespace F = torch::nn::functional;

LossWeights LossWeights::read(ConfigReader& r) {
  LossWeights w;
  w.ce = r.get<double>("ce_loss_weight", w.ce);
  w.bce = r.get<double>("bce_loss_weight", w.bce);
  w.dice = r.get<double>("dice_loss_weight", w.dice);
  r.finish();
  READ_CHECK(w.ce >= 0 && w.bce >= 0 && w.dice >= 0, r.source(),
             ": loss weights must be >= 0 (ce ", w.ce, ", bce ", w.bce, ", dice ", w.dice, ")");
  return w;
}

torch::Tensor shifted_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                    int64_t ignore_index) {
  READ_CHECK(logits.dim() == 3 && labels.dim() == 2 && logits.size(0) == labels.size(0) &&
                 logits.size(1) == labels.size(1),
             "CE: logits [N, L, V] and labels [N, L] disagree: ", logits.sizes(), " vs ",
             labels.sizes());
  const int64_t L = logits.size(1), V = logits.size(2);
  torch::Tensor shift_logits = logits.narrow(1, 0, std::max<int64_t>(L - 1, 0)).reshape({-1, V});
  torch::Tensor shift_labels = labels.narrow(1, 1, std::max<int64_t>(L - 1, 0)).reshape({-1})
                                   .to(logits.device(), torch::kInt64);
  // Only the supervised rows go through log-softmax (most positions, e.g. the
  // 576 image tokens and the prompt, are ignored): same mean, same gradient,
  // a fraction of the [rows, V] work. Upcast to float32 after the selection.
  torch::Tensor rows = shift_labels.ne(ignore_index).nonzero().squeeze(1);
  if (rows.numel() == 0) {
    // Improvement: PyTorch's mean over zero targets is NaN; a batch with no
    // supervised token contributes 0 here (still attached to the graph).
    return logits.sum().to(torch::kFloat32) * 0.0;
  }
  torch::Tensor x = shift_logits.index_select(0, rows).to(torch::kFloat32);
  torch::Tensor y = shift_labels.index_select(0, rows);
  READ_CHECK(y.min().item<int64_t>() >= 0 && y.max().item<int64_t>() < V,
             "CE: a label is outside the vocabulary [0, ", V, ")");
  return F::cross_entropy(x, y, F::CrossEntropyFuncOptions().reduction(torch::kMean));
}

static void check_masks(const torch::Tensor& pred, const torch::Tensor& gt, const char* what) {
  READ_CHECK(pred.dim() == 3 && pred.sizes() == gt.sizes(), what,
             ": prediction and ground-truth masks must both be [M, H, W], got ", pred.sizes(),
             " and ", gt.sizes());
}

torch::Tensor sigmoid_bce_per_mask(const torch::Tensor& pred, const torch::Tensor& gt) {
  check_masks(pred, gt, "BCE");
  torch::Tensor x = pred.to(torch::kFloat32), y = gt.to(x.device(), torch::kFloat32);
  torch::Tensor l = F::binary_cross_entropy_with_logits(
      x, y, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
  return l.flatten(1, 2).mean(1);
}

torch::Tensor dice_per_mask(const torch::Tensor& pred, const torch::Tensor& gt, double scale,
                            double eps) {
  check_masks(pred, gt, "Dice");
  torch::Tensor s = pred.to(torch::kFloat32).sigmoid().flatten(1, 2);
  torch::Tensor y = gt.to(s.device(), torch::kFloat32).flatten(1, 2);
  // Same operation order as the reference (divide each element by the scale).
  torch::Tensor numerator = 2 * (s / scale * y).sum(-1);
  torch::Tensor denominator = (s / scale).sum(-1) + (y / scale).sum(-1);
  return 1 - (numerator + eps) / (denominator + eps);
}

ReadLosses read_losses(const torch::Tensor& ce, const std::vector<torch::Tensor>& pred_masks,
                       const std::vector<torch::Tensor>& gt_masks, const LossWeights& w) {
  READ_CHECK(pred_masks.size() == gt_masks.size(), "losses: ", pred_masks.size(),
             " predicted mask sets for ", gt_masks.size(), " images");
  ReadLosses out;
  out.ce_loss = ce * w.ce;
  torch::Tensor bce_sum, dice_sum;
  for (size_t i = 0; i < pred_masks.size(); ++i) {
    const torch::Tensor& p = pred_masks[i];
    const torch::Tensor& g = gt_masks[i];
    READ_CHECK(p.dim() == 3 && g.dim() == 3 && p.size(0) == g.size(0), "losses: image ", i, " has ",
               p.dim() == 3 ? p.size(0) : -1, " predicted masks for ", g.dim() == 3 ? g.size(0) : -1,
               " ground-truth masks (shapes ", p.sizes(), " vs ", g.sizes(), ")");
    const int64_t m = g.size(0);
    if (m == 0) continue;  // adds exactly 0 in the reference
    // model_forward: sigmoid_ce_loss(...) = sum / (m + 1e-8), times m.
    torch::Tensor b = sigmoid_bce_per_mask(p, g).sum() / (static_cast<double>(m) + 1e-8) * static_cast<double>(m);
    torch::Tensor d = dice_per_mask(p, g).sum() / (static_cast<double>(m) + 1e-8) * static_cast<double>(m);
    bce_sum = bce_sum.defined() ? bce_sum + b : b;
    dice_sum = dice_sum.defined() ? dice_sum + d : d;
    out.num_masks += m;
  }
  if (out.num_masks == 0) {
    // No [SEG] / mask in the batch: the reference's mask loss is the number 0.
    torch::Tensor zero = torch::zeros({}, ce.options().dtype(torch::kFloat32));
    out.mask_bce_loss = zero;
    out.mask_dice_loss = zero.clone();
  } else {
    double denom = static_cast<double>(out.num_masks) + 1e-8;
    out.mask_bce_loss = w.bce * bce_sum / denom;
    out.mask_dice_loss = w.dice * dice_sum / denom;
  }
  out.mask_loss = out.mask_bce_loss + out.mask_dice_loss;
  out.loss = out.ce_loss + out.mask_loss;
  return out;
}

}  // namespace rd
