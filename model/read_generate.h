// READ inference by generation (spec/model.md section 9): greedy decoding
// (KV cache; the reference re-runs the whole sequence per step, which is the
// same computation) from a prompt that ends with "ASSISTANT:", then every
// generated [SEG] gives a mask from the hidden state that predicted it, the
// row's image tokens and SAM, exactly as in training. No [SEG] -> no mask
// (false premise). The reference keeps only the first [SEG]'s mask; all are
// returned here (segs are in generation order).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "model/llama_generate.h"
#include "model/read_model.h"

namespace rd {

struct ReadGenerateInputs {
  torch::Tensor input_ids;       // i64 [B, L] prompts (one -200 each), LEFT padded when B > 1
  torch::Tensor attention_mask;  // bool [B, L]; undefined = all real
  torch::Tensor images_clip;     // [B, 3, C, C] (row b's image)
  torch::Tensor images;          // [B, 3, S, S] SAM inputs
  std::vector<SamMaskShape> shapes;  // B
  GreedyOptions options;         // max_new_tokens, eos/pad ids (collect_hidden is forced on)
};

struct ReadGenerateOutput {
  torch::Tensor tokens;     // i64 [B, n] generated ids (pad after a row's eos)
  ReadForwardOutput masks;  // segs (conversation = row, image = row), pred_masks[b] [n_seg_b, H_b, W_b]
};

// Runs without autograd; call eval() first.
ReadGenerateOutput read_generate(ReadForCausalLMImpl& model, const ReadGenerateInputs& in);

}  // namespace rd
