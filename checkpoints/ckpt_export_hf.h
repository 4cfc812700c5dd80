// read_ckpt export-hf DIR --hf_out FOLDER: a training checkpoint as a full
// READ model folder in Hugging Face layout (checkpoints/read_hf_folder.h).
// The model is rebuilt as read_trainer resumes it (checkpoints/
// checkpoint_model.h), LoRA is merged into the base weights, and merged and
// unmerged models are run on a probe input (model/read_probe.h): the export
// is refused unless logits, [SEG] embeddings, SasP points and mask logits
// agree within --probe_rtol, and the comparison is printed.
#pragma once
#include <string>

#include "checkpoints/ckpt_cli.h"
#include "checkpoints/read_hf_folder.h"
#include "model/read_probe.h"

namespace rd {

struct ExportedHf {
  ReadHfFolderWritten written;
  ProbeComparison merge_check;  // unmerged vs merged on the probe
  size_t merged_layers = 0;
  double seconds = 0;
};

ExportedHf export_hf(const std::string& dir, const std::string& config_yaml, const ReadHfFolderOptions& options,
                     double probe_rtol);

extern const CkptCommand kCkptExportHf;

}  // namespace rd
