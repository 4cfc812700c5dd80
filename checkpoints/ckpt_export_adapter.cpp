#include "checkpoints/ckpt_export_adapter.h"

#include <gflags/gflags.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <iostream>
#include <set>

#include "checkpoints/formats/safetensors.h"
#include "checkpoints/training_checkpoint.h"
#include "common/error.h"
#include "model/peft_adapter.h"

DEFINE_string(adapter_out, "", "the folder to write the PEFT adapter to (created)");
DEFINE_string(base_model, "", "base_model_name_or_path written to adapter_config.json");
DEFINE_double(lora_alpha, 0, "LoRA alpha when the checkpoint has no config.yaml (0: LoraConfig default 16)");

namespace rd {
namespace fs = std::filesystem;

ExportedAdapter export_adapter(const std::string& dir, const std::string& out_folder,
                               const std::string& base_model_name_or_path) {
  const std::string step_dir = CheckpointManager::resolve(dir);
  CheckpointManager::verify(step_dir);
  StateDict trainable = load_safetensors(step_dir + "/trainable.safetensors");
  StateDict lora, other;
  for (auto& [k, v] : trainable) (is_lora_parameter(k) ? lora : other)[k] = v;
  READ_CHECK(!lora.empty(), step_dir, ": the checkpoint has no LoRA weights (*.lora_A.weight / *.lora_B.weight)");

  ExportedAdapter out;
  LoraConfig& cfg = out.config;
  if (FLAGS_lora_alpha > 0) cfg.alpha = FLAGS_lora_alpha;
  std::set<std::string> targets;
  int64_t r = -1;
  for (const auto& [k, v] : lora) {
    const std::string module = k.substr(0, k.rfind(".lora_"));
    targets.insert(module.substr(module.rfind('.') + 1));
    if (k.find(".lora_A.") != std::string::npos) {
      READ_CHECK(r < 0 || r == v.size(0), step_dir, ": ", k, " has rank ", v.size(0), ", others ", r);
      r = v.size(0);
    }
  }
  cfg.r = r;
  cfg.target_modules.assign(targets.begin(), targets.end());
  const fs::path yaml = fs::path(step_dir) / "config.yaml";
  if (fs::exists(yaml)) {
    YAML::Node l = YAML::LoadFile(yaml.string())["model"]["lora"];
    if (l) {
      if (l["alpha"]) cfg.alpha = l["alpha"].as<double>();
      if (l["dropout"]) cfg.dropout = l["dropout"].as<double>();
      if (l["target_modules"]) cfg.target_modules = l["target_modules"].as<std::vector<std::string>>();
      if (l["r"]) READ_CHECK(l["r"].as<int64_t>() == r, yaml.string(), ": model.lora.r is ", l["r"].as<int64_t>(),
                             " but the lora_A weights have rank ", r);
    }
  }
  save_peft_adapter(out_folder, lora, cfg, base_model_name_or_path);
  if (!other.empty())
    save_safetensors((fs::path(out_folder) / "non_lora_trainables.safetensors").string(), other, {{"format", "pt"}});
  out.lora_tensors = lora.size();
  out.other_tensors = other.size();
  return out;
}

namespace {
int run_export_adapter(const std::vector<std::string>& args) {
  READ_CHECK(!FLAGS_adapter_out.empty(), "--adapter_out FOLDER is required");
  ExportedAdapter e = export_adapter(args[0], FLAGS_adapter_out, FLAGS_base_model);
  std::cout << "wrote " << FLAGS_adapter_out << ": " << e.lora_tensors << " LoRA tensors (r " << e.config.r
            << ", alpha " << e.config.alpha << "), " << e.other_tensors << " other trainable tensors\n";
  return 0;
}
}  // namespace

const CkptCommand kCkptExportAdapter = {
    "export-adapter", "DIR", "training checkpoint -> PEFT LoRA adapter + non-LoRA trainables",
    "Writes --adapter_out/adapter_config.json and adapter_model.safetensors (PEFT key\n"
    "names base_model.model.<name>.lora_A/B.weight) from the checkpoint DIR's LoRA\n"
    "weights, and every other trainable weight to non_lora_trainables.safetensors\n"
    "(our parameter names). alpha/dropout/target_modules come from DIR's config.yaml\n"
    "(model.lora), else --lora_alpha and the defaults; r from the weights.",
    __FILE__, 1, 1, run_export_adapter};

}  // namespace rd
