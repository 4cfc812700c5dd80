// READ (READForCausalLM, rui-qian/READ model/READ.py): LLaVA-1.5 + LoRA whose
// [SEG] hidden state, through text_hidden_fcs, and SasP points picked from
// the [SEG]-to-image-token similarity prompt a SAM mask decoder.
//
// Parameter names are the READ HF checkpoint's: the LLaVA names (see
// llava.h) plus model.text_hidden_fcs.0.{0,2}.* and model.visual_model.*
// (SAM). LoRA parameters sit at <layer>.lora_A.weight / .lora_B.weight
// (PEFT's base_model.model. prefix and .default. adapter name dropped).
//
// Deliberate departures from the reference (spec/model.md section 10):
//  - SasP runs once per [SEG] on that conversation's OWN image tokens and
//    [SEG] state (10.1: the reference handles only rows with exactly one
//    [SEG] and mis-pairs otherwise), with the image tokens located from each
//    row's own -200 position (10.3: the reference takes <im_start> from row 0).
//  - Every [SEG] uses the size of its own conversation's image (10.2: the
//    reference indexes images_size_list with the index among one-[SEG] rows,
//    so a zero-[SEG] conversation before another image's shifts the sizes).
//  - CLIP runs once per image, text_hidden_fcs only on the [SEG] rows, and
//    the SAM image encoder only on images that have a [SEG] (10.7).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/read_batch.h"
#include "model/llava.h"
#include "model/losses.h"
#include "model/read_model_config.h"
#include "model/sam.h"
#include "model/sasp.h"
#include "model/text_hidden_fcs.h"

namespace rd {

// One [SEG] of the micro-batch (order: row-major over conversations, i.e.
// the order of pred_embeddings and of the ground-truth masks).
struct ReadSegOutput {
  int64_t conversation = 0;    // row of input_ids
  int64_t image = 0;           // image index (from offset)
  int64_t state_position = 0;  // spliced position of the hidden state used (one before [SEG])
  int64_t height = 0, width = 0;  // the image size SasP used (its own image: fix of 10.2)
  SaspResult sasp;             // points (x, y) in original pixels, labels, intermediates
  torch::Tensor points_sam;    // f32 [K, 2] in the SAM input frame (before the encoder's +0.5)
};

struct ReadForwardOutput {
  LlavaOutput llava;                 // splice, logits, last_hidden_state, unweighted CE (llm.loss)
  torch::Tensor seg_token_mask;      // bool [N, T]
  torch::Tensor seg_hidden_states;   // [n_seg, D]
  torch::Tensor pred_embeddings;     // [n_seg, out_dim]
  std::vector<ReadSegOutput> segs;   // n_seg entries
  std::vector<torch::Tensor> pred_masks;  // per image [n_i, H_i, W_i] mask logits (n_i may be 0)
  ReadLosses losses;                 // only when labels and masks were given
};

class ReadForCausalLMImpl : public LlavaForCausalLMImpl {
 public:
  explicit ReadForCausalLMImpl(const ReadModelConfig& config);

  // Training forward (spec/model.md section 2): losses need batch.labels and
  // batch.masks_list; without them (teacher-forced inference) the masks are
  // still predicted. The number of [SEG] of each image's conversations must
  // equal its mask count when masks are given.
  ReadForwardOutput forward_batch(const ReadBatch& batch);

  // Steps 5-8 for given [SEG] states: text_hidden_fcs, SasP per [SEG] and
  // SAM per image. hidden [N, T, D] final-norm states; seg_where [n, 2]
  // (row, position of the state one before the [SEG]), row-major; the P
  // image tokens of row r start at image_positions[r]; row_image[r] = its
  // image; images [B, 3, S, S] SAM inputs with their shapes. Fills
  // seg_hidden_states, pred_embeddings, segs and pred_masks of `out`.
  void segment(const torch::Tensor& hidden, const torch::Tensor& seg_where, const torch::Tensor& image_positions,
               int64_t num_image_tokens, const torch::Tensor& row_image, const torch::Tensor& images,
               const std::vector<SamMaskShape>& shapes, ReadForwardOutput& out);

  // The reference's trainable set: LoRA A/B, model.embed_tokens, lm_head,
  // model.visual_model.mask_decoder.*, model.text_hidden_fcs.*; everything
  // else frozen. Returns the trainable parameters by name. Called by the
  // constructor and the builders; call again after adding LoRA by hand.
  std::vector<std::pair<std::string, torch::Tensor>> set_trainable();
  std::vector<std::pair<std::string, torch::Tensor>> trainable_parameters() const;

  // The LLaMA is built at config.llava.llm.vocab_size (the base checkpoint's);
  // this grows embed_tokens and lm_head to `vocab` (READ: 32000 -> 32003),
  // new rows ~ N(0, new_token_init_std). Call before adding LoRA.
  void resize_vocab(int64_t vocab);
  void set_lora_config(const LoraConfig& c) { read_config_.lora = c, read_config_.use_lora = true; }

  const ReadModelConfig& read_config() const { return read_config_; }
  void set_sasp_config(const SaspConfig& c) { read_config_.sasp = c; }
  void set_loss_weights(const LossWeights& w) { read_config_.loss = w; }

  sam::Sam visual_model{nullptr};
  TextHiddenFcs text_hidden_fcs{nullptr};

  // Diagnostics: cut the gradient path through the SasP points (3.8) to
  // measure how much of the mask-loss gradient flows through them.
  bool detach_sasp_points = false;

 private:
  ReadModelConfig read_config_;
};
TORCH_MODULE(ReadForCausalLM);

// True for the parameters READ trains (see set_trainable).
bool is_read_trainable(const std::string& name);

}  // namespace rd
