// LLaVA's multimodal splice (llava_arch.py prepare_inputs_labels_for_multimodal
// as READ uses it: use_mm_start_end, tune_mm_mlp_adapter False, so
// <im_start>/<im_end> are ordinary embedded tokens and only the -200 slot is
// replaced by the P image features).
//
// Every row holds exactly one IMAGE_TOKEN_INDEX (-200), so all rows splice to
// the same length T = L - 1 + P and stay a rectangular batch.
#pragma once
#include <torch/torch.h>

#include "common/read_batch.h"  // kImageTokenIndex, kIgnoreIndex

namespace rd {


struct SplicedBatch {
  torch::Tensor inputs_embeds;         // [N, T, D]
  torch::Tensor attention_mask;        // bool [N, T]
  torch::Tensor labels;                // i64 [N, T] (undefined when no labels were given)
  torch::Tensor position_ids;          // i64 [N, T] = arange(T) per row (HF 4.31 default)
  torch::Tensor image_token_position;  // i64 [N]: index of -200 = first image position after splicing
  torch::Tensor token_new_position;    // i64 [N, L]: spliced index of every input token
                                       // (the -200 slot -> its first image feature)
  int64_t num_image_tokens = 0;        // P
};

// Index of the single -200 of every row ([N] int64); an error names the row
// that has none or several.
torch::Tensor image_token_positions(const torch::Tensor& input_ids);

// token_embeds: embed_tokens(input_ids with -200 replaced by any valid id)
// [N, L, D]; image_features: [N, P, D] (row r's image, already broadcast to
// its conversations). labels may be undefined.
//
// Attention: the reference prepends P-1 trues to the mask (right for right
// padding only, data.md 8.13); here the P trues are inserted at the image
// slot, which is identical for right padding and also right for left padding.
SplicedBatch splice_image_features(const torch::Tensor& input_ids, const torch::Tensor& token_embeds,
                                   const torch::Tensor& image_features, const torch::Tensor& attention_mask,
                                   const torch::Tensor& labels = {});

// READ's seg_token_mask in spliced coordinates: true at the position ONE
// BEFORE each [SEG] (the state that predicts [SEG]). The reference builds it
// as cat(P-1 x False, input_ids[:, 1:] == seg, False), which is only right for
// a [SEG] after the image; this maps every [SEG] through token_new_position
// and agrees with the reference there.
torch::Tensor seg_token_mask(const torch::Tensor& input_ids, const SplicedBatch& spliced, int64_t seg_token_id);

// For offset = cumulative conversation counts [B + 1], the image index of
// every conversation row [N] (int64, on offset's device).
torch::Tensor image_index_of_rows(const torch::Tensor& offset);

}  // namespace rd
