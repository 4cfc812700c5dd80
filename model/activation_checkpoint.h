// Activation checkpointing (LibTorch has no torch.utils.checkpoint): run a
// block without keeping its activations and recompute it in backward.
//
// checkpoint(fn, x, params) returns fn(x). Forward runs under no-grad and
// keeps only x (and the RNG state, so dropout masks repeat exactly); backward
// recomputes fn(x) with grad enabled and calls torch::autograd::grad for x
// and `params`. Gradients equal those of calling fn(x) directly.
//
// `params` must list every tensor fn reads that needs a gradient (the
// block's trainable parameters); any other tensor fn captures must not
// require grad (its gradient would be lost; checked for the hidden input
// only). Unlike the reentrant torch.utils.checkpoint, the output requires
// grad when only the parameters do (no enable_input_require_grads needed).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace rd {

using CheckpointFn = std::function<torch::Tensor(const torch::Tensor&)>;

torch::Tensor checkpoint(CheckpointFn fn, const torch::Tensor& x, const std::vector<torch::Tensor>& params);

}  // namespace rd
