// read_ckpt import [LLAVA_DIR CLIP_DIR SAM_PTH] --config YAML --hf_out FOLDER:
// the released weights -> the READ model training starts from, as a READ HF
// folder (checkpoints/read_hf_folder.h): LLaVA-1.5 (vocabulary resized
// 32000 -> 32003, new embedding and lm_head rows ~ N(0, 0.02)), SAM from its
// .pth as model.visual_model.*, fresh text_hidden_fcs; the CLIP folder is
// referenced by config.json's mm_vision_tower, and the tokenizer is written
// with added_tokens.json ([SEG] 32000, <im_start> 32001, <im_end> 32002).
// The model is built exactly as read_trainer builds it from the same config
// (model/read_model_factory.h after torch::manual_seed(train.seed)); the
// three folders default to the config's model.llava_dir, vision_tower_dir and
// sam_checkpoint. LoRA is not written (fresh LoRA has B = 0, a no-op; the
// trainer adds its own). To train from the result, point the config at it:
//   model: {init: pretrained, llava_dir: FOLDER, vision_tower_dir: CLIP_DIR}
// without sam_checkpoint (the folder holds SAM); nothing else changes.
#pragma once
#include <string>

#include "checkpoints/ckpt_cli.h"
#include "checkpoints/read_hf_folder.h"

namespace rd {

struct ImportSources {
  std::string llava_dir, clip_dir, sam;  // "" = from the config's model section
};

struct Imported {
  ReadHfFolderWritten written;
  int64_t base_vocab = 0, vocab = 0;
  double seconds = 0;
};

Imported import_read(const ImportSources& sources, const std::string& config_yaml, const ReadHfFolderOptions& options);

extern const CkptCommand kCkptImport;

}  // namespace rd
