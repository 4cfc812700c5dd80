// Tokenisation, label masking, padding and truncation of a micro-batch's
// conversations (spec/data.md 5.4-5.6): collate_fn_train's text half.
//
// data/ does not know the model's tokenizer: the caller passes a TextEncoder
// (the trainer builds one from model/tokenizer.h).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "common/read_batch.h"  // kImageTokenIndex, kIgnoreIndex

namespace rd {

struct TextEncoder {
  // tokenizer(text).input_ids (BOS first)
  std::function<std::vector<int64_t>(const std::string&)> encode;
  // tokenizer_image_token(text): "<image>" -> -200
  std::function<std::vector<int64_t>(const std::string&)> encode_with_image;
  int64_t pad_id = 0;
  int64_t seg_id = -1;
};


struct LabelRound {
  int64_t cur_len, round_len, instruction_len;
};

// handle_conversation_specifics for one rendered conversation: targets =
// ids with BOS, each round's instruction (system, question, image,
// "ASSISTANT:") and the padding set to kIgnoreIndex. Throws when the rounds
// do not account for every token (the reference asserts).
std::vector<int64_t> mask_labels(const std::string& conversation, const std::vector<int64_t>& ids,
                                 const TextEncoder& enc, std::vector<LabelRound>* rounds = nullptr);

// How a batch longer than the model's text budget is cut.
enum class Truncation {
  // The reference: cut at model_max_length - 255 columns (a reserve that
  // dates from 256-patch CLIP) even if a [SEG] is cut off. Kept only to
  // reproduce the reference's batches in tests.
  kReference255,
  // Ours: cut at model_max_length - (num_patches - 1), so the spliced
  // sequence fits model_max_length; a row whose [SEG] would be cut is an
  // error (the sample builder drops over-long conversations before).
  kReservePatches,
};

struct TextBatch {
  torch::Tensor input_ids;        // i64 [N, L]
  torch::Tensor labels;           // i64 [N, L]
  torch::Tensor attention_masks;  // bool [N, L]
  int64_t untruncated_len = 0;
  bool truncated = false;
};

struct TextCollateOptions {
  int64_t model_max_length = 2048;
  int64_t num_patches = 576;
  Truncation truncation = Truncation::kReservePatches;
  bool left_padding = false;  // validation generation pads left (no labels)
};

// The text budget of a row for these options.
int64_t max_text_tokens(const TextCollateOptions& o);

// conversation_list: rendered conversations with "<image>" (replaced here by
// <im_start><image><im_end>).
TextBatch collate_text(const std::vector<std::string>& conversation_list, const TextEncoder& enc,
                       const TextCollateOptions& options);
// The same with each row already encoded: ids[i] ==
// enc.encode_with_image(replace_image_tokens(conversation_list[i])).
TextBatch collate_text(const std::vector<std::string>& conversation_list, std::vector<std::vector<int64_t>> ids,
                       const TextEncoder& enc, const TextCollateOptions& options);

}  // namespace rd
