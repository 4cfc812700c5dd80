#include "checkpoints/ckpt_import.h"

#include <chrono>
#include <filesystem>
#include <iostream>

#include "checkpoints/ckpt_hf_flags.h"
#include "common/error.h"
#include "common/train_section.h"
#include "model/tokenizer.h"
#include "model/model_section.h"
#include "model/lora.h"
#include "model/read_model_factory.h"

namespace rd {
namespace fs = std::filesystem;

Imported import_read(const ImportSources& src, const std::string& config_yaml, const ReadHfFolderOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  READ_CHECK(!config_yaml.empty(), "--config YAML is required (the training config: model section, train.seed)");
  ModelSection m = ModelSection::load(config_yaml, {}, /*check_paths=*/false);
  const TrainSection train = TrainSection::load(config_yaml);
  if (!src.llava_dir.empty()) {
    if (m.tokenizer_dir == m.llava_dir || m.tokenizer_dir.empty()) m.tokenizer_dir = src.llava_dir;
    m.init = "pretrained";
    m.llava_dir = src.llava_dir;
    m.vision_tower_dir = src.clip_dir;
    m.sam_checkpoint = src.sam;
  }
  READ_CHECK(m.init == "pretrained", config_yaml, ": model.init is '", m.init,
             "': import needs the LLaVA, CLIP and SAM weights (give them as arguments)");
  auto must_exist = [&](const char* what, const std::string& p) {
    READ_CHECK(!p.empty() && fs::exists(p), "import: the ", what, " ",
               p.empty() ? std::string("is not given") : p + " does not exist");
  };
  must_exist("LLaVA-1.5 folder", m.llava_dir);
  must_exist("CLIP folder", m.vision_tower_dir);
  must_exist("SAM checkpoint", m.sam_checkpoint);
  must_exist("tokenizer folder", m.tokenizer_dir);

  Imported out;
  Tokenizer tok = Tokenizer::from_folder(m.tokenizer_dir);
  out.base_vocab = LlamaConfig::from_file(m.llava_dir).vocab_size;
  out.vocab = tok.size();
  READ_CHECK(out.base_vocab + kReadAddedTokens == out.vocab, (fs::path(m.llava_dir) / "config.json").string(), ": vocab_size ",
             out.base_vocab, " is not the tokenizer's ", out.vocab, " (", m.tokenizer_dir,
             ") minus READ's 3 added tokens: not a LLaVA-1.5 folder with its tokenizer");

  torch::manual_seed(train.seed);  // as Trainer::Trainer before make_read_model
  ReadForCausalLM model = make_read_model(m, tok);
  merge_lora(*model);  // fresh LoRA: B = 0, the weights are unchanged
  ReadHfFolderOptions o = options;
  if (!o.dtype) o.dtype = weight_dtype(m.precision);
  o.tokenizer_dir = m.tokenizer_dir;
  o.vision_tower_dir = m.vision_tower_dir;
  o.generation_config = (fs::path(m.llava_dir) / "generation_config.json").string();
  out.written = write_read_hf_folder(*model, tok, o);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

namespace {
int run_import(const std::vector<std::string>& args) {
  READ_CHECK(args.empty() || args.size() == 3, "import takes LLAVA_DIR CLIP_DIR SAM_PTH, or none (from --config)");
  ImportSources src;
  if (args.size() == 3) src = {args[0], args[1], args[2]};
  Imported r = import_read(src, FLAGS_config, hf_folder_options());
  std::cout << "vocabulary " << r.base_vocab << " -> " << r.vocab << "; wrote " << FLAGS_hf_out << ": "
            << r.written.tensors << " tensors in " << r.written.weights.files.size() << " shard(s), "
            << r.written.weights.total_bytes << " bytes of weights, " << r.written.folder_bytes << " bytes in all, in "
            << r.seconds << " s\n"
            << "train from it with model: {init: pretrained, llava_dir: " << FLAGS_hf_out
            << ", vision_tower_dir: <the CLIP folder>} and no sam_checkpoint\n";
  return 0;
}
}  // namespace

const CkptCommand kCkptImport = {
    "import", "[LLAVA_DIR CLIP_DIR SAM_PTH]", "LLaVA-1.5 + CLIP + SAM .pth -> the READ folder training starts from",
    "Builds READ from a LLaVA-1.5 HF folder (with its tokenizer), a CLIP folder and\n"
    "SAM's .pth exactly as read_trainer does for the --config YAML (model section,\n"
    "train.seed; the three paths default to its model.llava_dir, vision_tower_dir,\n"
    "sam_checkpoint): vocabulary resized 32000 -> 32003 (new rows ~ N(0, 0.02)),\n"
    "fresh text_hidden_fcs. Writes --hf_out as a READ HF folder (sharded\n"
    "safetensors + index, config.json naming the CLIP folder, tokenizer with\n"
    "added_tokens.json, generation_config.json). Train from it with\n"
    "model.llava_dir = --hf_out and no model.sam_checkpoint.",
    __FILE__, 0, 3, run_import, kCkptHfFlagsFile};

}  // namespace rd
