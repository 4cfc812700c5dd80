// SAM sizes from the configuration alone (no weights allocated), for memory
// planning (the trainer's --plan): state-dict elements per component, and an
// estimate of the image encoder's activation peak at inference.
#pragma once
#include <cstdint>
#include <string>

#include "model/sam_config.h"

namespace rd::sam {

struct SamSize {
  // Elements of every state-dict tensor (parameters, plus the prompt
  // encoder's one buffer: the 2 x D/2 Fourier matrix).
  int64_t image_encoder = 0;
  int64_t prompt_encoder = 0;
  int64_t mask_decoder = 0;
  int64_t total() const { return image_encoder + prompt_encoder + mask_decoder; }
  // Multi-line human-readable summary ("image_encoder 632.0M ..."), with the
  // bytes at `bytes_per_element` (2 = bf16, 4 = fp32).
  std::string describe(int bytes_per_element = 4) const;
};

SamSize sam_size(const SamConfig& config);

// Largest simultaneous activation memory of ImageEncoderViT::forward under
// NoGradGuard for `batch` images, in bytes (estimate; dominated by a global
// attention block: the [B*heads, N, N] logits and their softmax, N = grid^2,
// plus the block's q/k/v and hidden tensors). ViT-H at 1024, fp32: ~2.3 GB
// per image.
int64_t image_encoder_inference_peak_bytes(const SamConfig& config, int64_t batch,
                                           int bytes_per_element = 4);

}  // namespace rd::sam
