// read_synth: writes the embedded default's synthetic shapes datasets in the
// real raw layouts, and trains a SentencePiece tokenizer on their text.
#include <gflags/gflags.h>

#include <filesystem>
#include <fstream>

#include "common/command_line.h"
#include "common/logging.h"
#include "data/synthetic_shapes.h"

DEFINE_string(out, "", "output root (the dataset root read_pack --root takes)");
DEFINE_int64(train_images, 400, "images per training dataset");
DEFINE_int64(val_images, 50, "ReasonSeg val images");
DEFINE_int64(seed, 1, "random seed");
DEFINE_string(tokenizer_out, "", "if set, train a SentencePiece BPE tokenizer on the text into this folder");
DEFINE_int32(vocab_size, 1000, "tokenizer vocabulary size (SentencePiece pieces)");
DEFINE_string(templates, "configs/templates/read.yaml",
              "with --tokenizer_out: the question/answer templates, whose text joins the tokenizer's corpus");

namespace fs = std::filesystem;

static void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p);
  f << s;
}

// A Hugging Face tokenizer folder: LLaMA-style SentencePiece BPE (byte
// fallback, digits split, unk 0 / bos 1 / eos 2) as the real LLaMA model.
static int train_tokenizer(const std::string& corpus, const fs::path& dir, int vocab) {
  fs::create_directories(dir);
  std::string cmd = "spm_train --input='" + corpus + "' --model_prefix='" + (dir / "tokenizer").string() +
                    "' --model_type=bpe --vocab_size=" + std::to_string(vocab) +
                    " --character_coverage=1.0 --byte_fallback=true --split_digits=true"
                    " --add_dummy_prefix=true --remove_extra_whitespaces=false"
                    " --normalization_rule_name=identity --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1"
                    " --allow_whitespace_only_pieces=true --minloglevel=2 > '" +
                    (dir / "spm_train.log").string() + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    LOG(ERROR) << "spm_train failed; see " << (dir / "spm_train.log").string();
    return 1;
  }
  fs::remove(dir / "tokenizer.vocab");
  write_text(dir / "tokenizer_config.json",
             R"({"add_bos_token": true, "add_eos_token": false, "legacy": true, "model_max_length": 2048,)"
             R"( "padding_side": "right", "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>",)"
             R"( "eos_token": "</s>", "unk_token": "<unk>", "pad_token": null})");
  write_text(dir / "special_tokens_map.json",
             R"({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"})");
  write_text(dir / "added_tokens.json", "{\"[SEG]\": " + std::to_string(vocab) + ", \"<im_start>\": " +
                                            std::to_string(vocab + 1) + ", \"<im_end>\": " +
                                            std::to_string(vocab + 2) + "}");
  return 0;
}

int main(int argc, char** argv) {
  rd::parse_command_line(
      "read_synth --out DIR [--tokenizer_out TOKDIR]\n"
      "Writes synthetic coloured-shape datasets (ReasonSeg, refCOCO, R-refCOCO, Mapillary-style label\n"
      "maps, LLaVA-Instruct VQA) in their real raw layouts under DIR, for read_pack.",
      &argc, &argv);
  rd::init_logging(argv[0]);
  if (FLAGS_out.empty()) {
    LOG(ERROR) << "--out is required (see --help)";
    return 2;
  }
  try {
    rd::SynthOptions o;
    o.out_dir = FLAGS_out;
    o.train_images = FLAGS_train_images;
    o.val_images = FLAGS_val_images;
    o.seed = FLAGS_seed;
    rd::SynthSummary s = rd::write_synthetic_datasets(o);
    LOG(INFO) << "read_synth: " << s.images << " images, " << s.files << " files under " << FLAGS_out;
    if (!FLAGS_tokenizer_out.empty()) {
      // Templates and the chat frame belong to the tokenizer's corpus too.
      std::ofstream corpus(s.corpus_path, std::ios::app);
      corpus << "A chat between a curious human and an artificial intelligence assistant. The assistant "
                "gives helpful, detailed, and polite answers to the human's questions.\nUSER: ASSISTANT:\n";
      // (Not found relative to __FILE__: ccache's base_dir makes that a path
      // relative to the build folder.)
      std::ifstream templates(FLAGS_templates);
      if (!templates) {
        LOG(ERROR) << "--templates " << FLAGS_templates
                   << ": cannot open (run from the project root or give the template file's path)";
        return 2;
      }
      corpus << templates.rdbuf();
      corpus.close();
      if (train_tokenizer(s.corpus_path, FLAGS_tokenizer_out, FLAGS_vocab_size)) return 1;
      LOG(INFO) << "read_synth: tokenizer written to " << FLAGS_tokenizer_out;
    }
  } catch (const std::exception& e) {
    LOG(ERROR) << e.what();
    return 1;
  }
  return 0;
}
