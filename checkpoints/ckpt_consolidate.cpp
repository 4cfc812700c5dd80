#include <gflags/gflags.h>

#include <iostream>

#include "checkpoints/ckpt_convert.h"
#include "checkpoints/formats/safetensors.h"
#include "checkpoints/training_checkpoint.h"
#include "common/error.h"

DEFINE_bool(optimizer, false, "also write the consolidated AdamW state (optimizer.* keys)");

namespace rd {

namespace {

// The verified checkpoint's trainable weights and, with the optimizer, its
// AdamW state gathered from every rank (the state's step in *optimizer_step).
StateDict consolidate_checkpoint(const std::string& step_dir, bool with_optimizer, int64_t* optimizer_step) {
  CheckpointManager::verify(step_dir);
  StateDict out = load_safetensors(step_dir + "/trainable.safetensors");
  if (with_optimizer) {
    ConsolidatedState s = CheckpointManager::consolidated_optimizer(step_dir);
    for (const auto& [k, v] : s.master) out["optimizer.master." + k] = v;
    for (const auto& [k, v] : s.exp_avg) out["optimizer.exp_avg." + k] = v;
    for (const auto& [k, v] : s.exp_avg_sq) out["optimizer.exp_avg_sq." + k] = v;
    *optimizer_step = s.step;
  }
  return out;
}

int run_consolidate(const std::vector<std::string>& args) {
  READ_CHECK(!FLAGS_out.empty(), "--out F.safetensors is required");
  const std::string step_dir = CheckpointManager::resolve(args[0]);
  int64_t optimizer_step = 0;
  StateDict sd = consolidate_checkpoint(step_dir, FLAGS_optimizer, &optimizer_step);
  std::map<std::string, std::string> meta{{"format", "read-consolidated"}, {"source", step_dir}};
  if (FLAGS_optimizer) meta["optimizer_step"] = std::to_string(optimizer_step);
  save_safetensors(FLAGS_out, sd, meta);
  std::cout << "wrote " << sd.size() << " tensors to " << FLAGS_out << "\n";
  return 0;
}

}  // namespace

const CkptCommand kCkptConsolidate = {
    "consolidate", "DIR", "training checkpoint -> one fp32 safetensors (weights, optimizer)",
    "Verifies the checkpoint DIR (a root with `latest` or a step_<N> directory) and\n"
    "writes every trainable weight (fp32, by parameter name) to --out. With\n"
    "--optimizer the AdamW state gathered from every rank's ZeRO partition is added\n"
    "as optimizer.master.<name>, optimizer.exp_avg.<name>, optimizer.exp_avg_sq.<name>.",
    __FILE__, 1, 1, run_consolidate, kCkptConvertFlagsFile};

}  // namespace rd
