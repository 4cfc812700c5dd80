// READ training losses (spec/model.md section 5): shifted token-mean CE,
// per-mask BCE-with-logits and the /1000-scaled dice, weighted and summed.
// Reference: rui-qian/READ model/READ.py (sigmoid_ce_loss, dice_loss,
// model_forward) and LLaVA's LlavaLlamaForCausalLM.forward (CE).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace rd {

class ConfigReader;

struct LossWeights {
  double ce = 1.0;    // ce_loss_weight
  double bce = 2.0;   // bce_loss_weight
  double dice = 0.5;  // dice_loss_weight (4.0 for the from-scratch 7B recipe)
  // Keys (the reference's argument names): ce_loss_weight, bce_loss_weight, dice_loss_weight.
  static LossWeights read(ConfigReader& r);
};

// Causal-LM cross entropy: logits [N, L, V] at position t predict labels[:, t+1];
// mean over the supervised (label != ignore_index) targets, computed in float32.
// All targets ignored: returns 0 (attached to the graph) where PyTorch's mean
// would give 0/0 = NaN.
torch::Tensor shifted_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                    int64_t ignore_index = -100);

// Per mask: mean over pixels of BCE-with-logits. pred logits and gt (0/1)
// [M, H, W] -> [M] float32.
torch::Tensor sigmoid_bce_per_mask(const torch::Tensor& pred, const torch::Tensor& gt);

// Per mask: 1 - (2 sum(s*y)/scale + eps) / (sum(s)/scale + sum(y)/scale + eps),
// s = sigmoid(pred), as the reference's dice_loss (scale 1000, eps 1e-6).
// [M, H, W] -> [M] float32.
torch::Tensor dice_per_mask(const torch::Tensor& pred, const torch::Tensor& gt,
                            double scale = 1000.0, double eps = 1e-6);

struct ReadLosses {
  torch::Tensor loss;            // ce_loss + mask_loss
  torch::Tensor ce_loss;         // ce weight x CE
  torch::Tensor mask_bce_loss;   // bce weight x mean over all masks of the per-mask BCE
  torch::Tensor mask_dice_loss;  // dice weight x mean over all masks of the per-mask dice
  torch::Tensor mask_loss;       // mask_bce_loss + mask_dice_loss
  int64_t num_masks = 0;
};

// Combines the unweighted CE with the masks of every image of the micro-batch
// (pred_masks[i] logits and gt_masks[i] 0/1, both [M_i, H_i, W_i]; M_i may be
// 0). Masks are averaged over the whole batch exactly like model_forward
// (per image sum * M_i / (M_i + 1e-8), then / (sum M_i + 1e-8)); a batch
// without masks adds a mask loss of 0. Division by the gradient-accumulation
// steps is the trainer's business.
ReadLosses read_losses(const torch::Tensor& ce, const std::vector<torch::Tensor>& pred_masks,
                       const std::vector<torch::Tensor>& gt_masks, const LossWeights& w = {});

}  // namespace rd
