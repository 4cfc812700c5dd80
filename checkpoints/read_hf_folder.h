// A READ model written as a Hugging Face folder, the layout of the released
// READ checkpoints (the reference's merge_lora_weights_and_save_hf_model.py
// with safe serialization):
//   config.json            the LLaVA config.json (vocab_size = READ's, e.g.
//                          32003; mm_vision_tower) plus READ's fields out_dim,
//                          train_mask_decoder, seg_token_idx; architectures
//                          READForCausalLM
//   model-0000k-of-0000n.safetensors + model.safetensors.index.json
//                          every weight under the reference's names: model.*
//                          and lm_head.* (LLaMA, mm_projector),
//                          model.visual_model.* (SAM), model.text_hidden_fcs.*;
//                          no vision tower keys (READ's merge drops them) and
//                          no LoRA keys (LoRA must be merged first)
//   generation_config.json
//   tokenizer.model, tokenizer_config.json, special_tokens_map.json,
//   added_tokens.json      (with [SEG], <im_start>, <im_end>)
//   vision_tower/          only when no CLIP folder is named: a CLIPVisionModel
//                          folder (config.json + model.safetensors,
//                          vision_model.*), e.g. a randomly initialised tower
// load_read_model(config, {model_dir: folder}) loads it back (the READ
// checkpoint path; see model/read_model_loading.h); so does read_trainer with
// model.llava_dir = folder and no model.sam_checkpoint.
// The folder is assembled under <out>.partial and renamed at the end.
#pragma once
#include <string>

#include "checkpoints/formats/sharded_safetensors.h"
#include "model/read_model.h"
#include "model/tokenizer.h"

namespace rd {

struct ReadHfFolderOptions {
  std::string out;
  std::string tokenizer_dir;      // the tokenizer folder the model was built with
  std::string generation_config;  // a generation_config.json to copy ("": LLaMA's ids)
  std::string vision_tower_dir;   // the CLIP folder config.json names ("": write vision_tower/)
  c10::optional<torch::Dtype> dtype;  // of the floating tensors written (default: as in the model)
  uint64_t max_shard_bytes = 10000000000ull;
};

struct ReadHfFolderWritten {
  ShardedWrite weights;
  size_t tensors = 0;
  uint64_t folder_bytes = 0;  // every file written
};

ReadHfFolderWritten write_read_hf_folder(ReadForCausalLMImpl& model, const Tokenizer& tokenizer,
                                         const ReadHfFolderOptions& options);

}  // namespace rd
