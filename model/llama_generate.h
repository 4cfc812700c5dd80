// Greedy decoding for LlamaForCausalLM (spec/model.md section 9). The
// reference re-runs the whole sequence every step; with use_cache the keys
// and values of past positions are kept (LlamaKVCache) and each step feeds
// only the newest token: the same numbers up to float reassociation (tested
// against the recompute path).
#pragma once
#include <torch/torch.h>

#include "model/llama.h"

namespace rd {

struct GreedyOptions {
  int64_t max_new_tokens = 512;
  int64_t eos_token_id = 2;
  int64_t pad_token_id = 0;  // fed (and returned) for rows that already ended
  bool use_cache = true;
  bool collect_hidden = false;
};

struct GreedyResult {
  torch::Tensor tokens;  // i64 [B, n] generated ids (pad after a row's eos), n <= max_new_tokens
  // [B, T + n - 1, D]: final-norm hidden state of every position fed to the
  // model (the prompt, then each generated token but the last), i.e. what a
  // full forward over prompt ++ tokens[:, :-1] returns. Only with collect_hidden.
  torch::Tensor hidden;
};

// The prompt is input_ids [B, T] or inputs_embeds [B, T, D] (one of them
// defined); attention_mask [B, T] (left padding for batches; undefined =
// all real). Positions follow HF generate: cumsum(mask) - 1 (padding: 1),
// which is arange(T) for unpadded prompts. Runs without grad; call eval()
// first for dropout-free decoding.
GreedyResult greedy_generate(LlamaForCausalLMImpl& model, const torch::Tensor& input_ids,
                             const torch::Tensor& inputs_embeds, const torch::Tensor& attention_mask,
                             const GreedyOptions& options = {});

}  // namespace rd
