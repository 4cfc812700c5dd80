// read_trainer --plan: parameter counts per component (trainable / frozen)
// and the per-rank memory of weights, gradients, optimizer states and
// activations for a configuration and world size, computed from the model
// sizes alone (nothing is allocated), so the real 7B/13B setups can be
// checked on any machine.
#pragma once
#include <string>
#include <vector>

#include "trainer/train_config.h"

namespace rd {

struct ComponentCount {
  std::string name;
  int64_t trainable = 0, frozen = 0;
  std::string prefix;  // parameter-name prefix of a frozen component (model.extra_trainable may train it)
};

struct MemoryPlan {
  std::vector<ComponentCount> components;
  int world_size = 1;
  int64_t trainable = 0, frozen = 0;
  // bytes per rank
  int64_t weights = 0;      // working copies (bf16 or fp32) of every parameter
  int64_t gradients = 0;    // fp32 gradient storage (full at stage 0/1, the partition + buckets at 2)
  int64_t optimizer = 0;    // fp32 master + exp_avg + exp_avg_sq of this rank's partition
  int64_t activations = 0;  // training-step peak estimate for one micro-batch
  int64_t total() const { return weights + gradients + optimizer + activations; }
  std::string describe() const;
};

// Sizes from the config: pretrained configs use the real LLaVA-1.5 7B/13B,
// CLIP ViT-L/14-336 and SAM presets (named by the paths / sam.variant);
// random-init configs use their own sizes.
MemoryPlan plan_memory(const TrainConfig& config, int world_size);

}  // namespace rd
