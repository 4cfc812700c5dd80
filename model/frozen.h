// READ freezes the CLIP tower, the projector and SAM's image encoder and runs
// them without autograd; a config may train them (extra_trainable), and then
// they must record the graph. This tells which.
#pragma once
#include <torch/torch.h>

namespace rd {

inline bool any_requires_grad(const torch::nn::Module& m) {
  for (const auto& p : m.parameters())
    if (p.requires_grad()) return true;
  return false;
}

}  // namespace rd
