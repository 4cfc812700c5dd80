#include "checkpoints/ckpt_export_hf.h"

#include <chrono>
#include <filesystem>
#include <iostream>

#include "checkpoints/checkpoint_model.h"
#include "checkpoints/ckpt_hf_flags.h"
#include "common/error.h"
#include "model/lora.h"

DEFINE_double(probe_rtol, 1e-3,
              "export-hf: largest merged-vs-unmerged difference on the probe, relative to each output's magnitude");

namespace rd {
namespace fs = std::filesystem;

ExportedHf export_hf(const std::string& dir, const std::string& config_yaml, const ReadHfFolderOptions& options,
                     double probe_rtol) {
  const auto t0 = std::chrono::steady_clock::now();
  CheckpointModel c = load_checkpoint_model(dir, config_yaml);
  ReadForCausalLMImpl& m = *c.model;
  ExportedHf e;
  const ReadBatch probe = probe_batch(m.read_config());
  const ProbeOutputs unmerged = run_probe(m, probe);
  e.merged_layers = lora_layers(m).size();
  merge_lora(m);
  e.merge_check = compare_probe(run_probe(m, probe), unmerged);
  READ_CHECK(e.merge_check.within(probe_rtol), c.step_dir, ": merging LoRA changed the outputs beyond --probe_rtol ",
             probe_rtol, ": ", e.merge_check.describe(), "; nothing written");

  ReadHfFolderOptions o = options;
  const ModelSection& ms = c.model_config;
  if (!o.dtype) o.dtype = weight_dtype(ms.precision);
  o.tokenizer_dir = ms.tokenizer_dir;
  if (ms.init == "pretrained") {
    // The CLIP folder is referenced unless training changed the tower
    // (model.extra_trainable): then the trained tower is written beside.
    bool tower_trained = false;
    for (const auto& [name, p] : m.trainable_parameters()) tower_trained |= is_vision_tower_key(name);
    if (!tower_trained) o.vision_tower_dir = ms.vision_tower_dir;
    o.generation_config = (fs::path(ms.llava_dir) / "generation_config.json").string();
  }
  e.written = write_read_hf_folder(m, c.tokenizer, o);
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

namespace {
int run_export_hf(const std::vector<std::string>& args) {
  ExportedHf e = export_hf(args[0], FLAGS_config, hf_folder_options(), FLAGS_probe_rtol);
  std::cout << "LoRA merged in " << e.merged_layers << " layers; merged vs unmerged on a probe input: "
            << e.merge_check.describe() << ": same outputs (rtol " << FLAGS_probe_rtol << ")\n"
            << "wrote " << FLAGS_hf_out << ": " << e.written.tensors << " tensors in " << e.written.weights.files.size()
            << " shard(s), " << e.written.weights.total_bytes << " bytes of weights, " << e.written.folder_bytes
            << " bytes in all, in " << e.seconds << " s\n";
  return 0;
}
}  // namespace

const CkptCommand kCkptExportHf = {
    "export-hf", "DIR", "training checkpoint -> full READ model folder (HF layout, LoRA merged)",
    "Rebuilds the model of checkpoint DIR as read_trainer resumes it (config.yaml of\n"
    "the checkpoint or --config: model section and train.seed; frozen weights from\n"
    "model.init, trainable ones from the checkpoint), merges LoRA, checks on a probe\n"
    "input that merged and unmerged models give the same logits, [SEG] embeddings,\n"
    "SasP points and masks (within --probe_rtol; refused otherwise), and writes\n"
    "--hf_out: config.json, model-0000k-of-0000n.safetensors +\n"
    "model.safetensors.index.json (model.*, lm_head.*, model.visual_model.*,\n"
    "model.text_hidden_fcs.*; no vision tower, no LoRA keys), generation_config.json\n"
    "and the tokenizer files. A randomly initialised CLIP tower is written to\n"
    "--hf_out/vision_tower; a pretrained one is referenced by config.json's\n"
    "mm_vision_tower. load_read_model and read_trainer (model.llava_dir) load it.",
    __FILE__, 1, 1, run_export_hf, kCkptHfFlagsFile};

}  // namespace rd
