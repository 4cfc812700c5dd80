// A fixed probe input for a READ model and the comparison of two models'
// outputs on it: read_ckpt export-hf checks that merging LoRA leaves the
// outputs unchanged, and the tests that an exported folder loads back to the
// same model. One image (random pixels from `seed`, original size 3/4 x 1 of
// SAM's input side) and one conversation with the image placeholder and a
// [SEG]; labels on the answer part so the logits are computed.
#pragma once
#include <string>
#include <vector>

#include "common/read_batch.h"
#include "model/read_model.h"

namespace rd {

ReadBatch probe_batch(const ReadModelConfig& config, uint64_t seed = 0);

struct ProbeOutputs {
  torch::Tensor logits;           // [1, T, V]
  torch::Tensor pred_embeddings;  // [n_seg, out_dim]
  torch::Tensor points;           // SasP points of every [SEG], concatenated [K, 2]
  torch::Tensor masks;            // mask logits of the image [n_seg, H, W]
};

// In eval mode without autograd (the model's train/eval mode is restored).
ProbeOutputs run_probe(ReadForCausalLMImpl& model, const ReadBatch& batch);

struct ProbeComparison {
  double logits = 0, embeddings = 0, points = 0, masks = 0;  // max |a - b|
  double logits_scale = 0, embeddings_scale = 0, masks_scale = 0;  // max |b|
  bool within(double rtol) const;  // every difference <= rtol * max(1, scale); points within 1e-3 px
  std::string describe() const;    // "logits max |diff| 1.2e-06 (of 8.1), ..."
};

ProbeComparison compare_probe(const ProbeOutputs& a, const ProbeOutputs& b);

}  // namespace rd
