#include "model/peft_adapter.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "checkpoints/formats/json_file.h"
#include "checkpoints/formats/load_state_dict.h"
#include "checkpoints/formats/safetensors.h"
#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;
namespace {

const std::string kPrefix = "base_model.model.";

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

}  // namespace

LoraConfig read_peft_adapter_config(const std::string& path) {
  const JsonFile j(json_file_in(path, "adapter_config.json"));
  const std::string& src = j.path();
  const nlohmann::json& root = j.root();
  LoraConfig c;
  const std::string type = j.get_or<std::string>("peft_type", "LORA");
  READ_CHECK(type == "LORA", src, ": peft_type '", type, "' is not LORA");
  c.r = j.get<int64_t>("r");
  c.alpha = j.get<double>("lora_alpha");
  c.dropout = j.get_or<double>("lora_dropout", 0.0);
  const std::string bias = j.get_or<std::string>("bias", "none");
  READ_CHECK(bias == "none", src, ": bias '", bias, "' is not supported (READ uses 'none')");
  READ_CHECK(!j.get_or<bool>("fan_in_fan_out", false), src, ": fan_in_fan_out=true is not supported");
  for (const char* k : {"layers_to_transform", "modules_to_save"})
    READ_CHECK(!root.contains(k) || root[k].is_null() || (root[k].is_array() && root[k].empty()), src, ": ", k,
               " is not supported (", root[k].dump(), ")");
  READ_CHECK(j.has("target_modules") && !j.at("target_modules").is_null(), src, ": no target_modules");
  if (j.at("target_modules").is_string()) {
    c.target_regex = j.get<std::string>("target_modules");  // peft: re.fullmatch
    c.target_modules.clear();
  } else {
    c.target_modules = j.get<std::vector<std::string>>("target_modules");
  }
  c.validate(src);
  return c;
}

StateDict peft_to_module_names(const StateDict& adapter, const std::string& source) {
  StateDict out;
  for (const auto& [key, t] : adapter) {
    READ_CHECK(key.rfind(kPrefix, 0) == 0, source, ": adapter key '", key, "' does not start with '", kPrefix, "'");
    std::string name = key.substr(kPrefix.size());
    for (const char* ab : {".lora_A.default.weight", ".lora_B.default.weight"}) {
      const std::string s = ab;
      if (ends_with(name, s)) name = name.substr(0, name.size() - s.size()) + s.substr(0, 7) + ".weight";
    }
    READ_CHECK(ends_with(name, ".lora_A.weight") || ends_with(name, ".lora_B.weight"), source,
               ": adapter key '", key, "' is not a LoRA A/B weight");
    READ_CHECK(!out.count(name), source, ": adapter key '", key, "' given twice");
    out[name] = t;
  }
  return out;
}

StateDict module_to_peft_names(const StateDict& ours) {
  StateDict out;
  for (const auto& [name, t] : ours) out[kPrefix + name] = t;
  return out;
}

StateDict read_peft_adapter_weights(const std::string& folder) {
  const fs::path st = fs::path(folder) / "adapter_model.safetensors";
  const fs::path bin = fs::path(folder) / "adapter_model.bin";
  const fs::path file = fs::exists(st) ? st : bin;
  READ_CHECK(fs::exists(file), folder, ": neither adapter_model.safetensors nor adapter_model.bin");
  return peft_to_module_names(load_weight_file(file.string()), file.string());
}

LoraConfig load_peft_adapter(torch::nn::Module& root, const std::string& folder) {
  const LoraConfig cfg = read_peft_adapter_config(folder);
  const StateDict w = read_peft_adapter_weights(folder);
  const std::vector<std::string> targeted = apply_lora(root, cfg);
  auto params = root.named_parameters(true);
  std::vector<std::string> problems;
  std::set<std::string> used;
  torch::NoGradGuard g;
  for (const auto& name : targeted) {
    for (const char* ab : {".lora_A.weight", ".lora_B.weight"}) {
      const std::string key = name + ab;
      auto it = w.find(key);
      if (it == w.end()) {
        problems.push_back("missing " + kPrefix + key);
        continue;
      }
      used.insert(key);
      torch::Tensor dst = params[key];
      if (it->second.sizes() != dst.sizes() || !it->second.is_floating_point()) {
        std::ostringstream os;
        os << "shape mismatch " << kPrefix << key << ": file " << it->second.sizes() << " vs model " << dst.sizes();
        problems.push_back(os.str());
        continue;
      }
      dst.copy_(it->second);
    }
  }
  for (const auto& [key, t] : w)
    if (!used.count(key)) problems.push_back("unexpected " + kPrefix + key + " (not a targeted layer)");
  if (!problems.empty()) {
    std::ostringstream os;
    for (const auto& p : problems) os << "\n  " << p;
    fail(folder, ": LoRA adapter does not match the model:", os.str());
  }
  return cfg;
}

void save_peft_adapter(const std::string& folder, torch::nn::Module& root, const LoraConfig& cfg,
                       const std::string& base_model_name_or_path) {
  StateDict ours;
  for (const auto& p : root.named_parameters(true))
    if (is_lora_parameter(p.key())) ours[p.key()] = p.value().detach().to(torch::kCPU);
  READ_CHECK(!ours.empty(), folder, ": the model has no LoRA parameters to save");
  save_peft_adapter(folder, ours, cfg, base_model_name_or_path);
}

void save_peft_adapter(const std::string& folder, const StateDict& ours, const LoraConfig& cfg,
                       const std::string& base_model_name_or_path) {
  READ_CHECK(!ours.empty(), folder, ": no LoRA parameters to save");
  for (const auto& [k, v] : ours) READ_CHECK(is_lora_parameter(k), folder, ": ", k, " is not a LoRA parameter");
  fs::create_directories(folder);
  nlohmann::json j;
  j["peft_type"] = "LORA";
  j["task_type"] = "CAUSAL_LM";
  j["r"] = cfg.r;
  j["lora_alpha"] = cfg.alpha;
  j["lora_dropout"] = cfg.dropout;
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layers_to_transform"] = nullptr;
  j["layers_pattern"] = nullptr;
  j["modules_to_save"] = nullptr;
  j["revision"] = nullptr;
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = base_model_name_or_path;
  if (cfg.target_regex.empty()) {
    j["target_modules"] = cfg.target_modules;
  } else {
    j["target_modules"] = cfg.target_regex;
  }
  const fs::path cfg_path = fs::path(folder) / "adapter_config.json";
  {
    std::ofstream f(cfg_path.string() + ".tmp");
    READ_CHECK(f, cfg_path.string(), ": cannot write");
    f << j.dump(2) << "\n";
    READ_CHECK(f.good(), cfg_path.string(), ": write failed");
  }
  fs::rename(cfg_path.string() + ".tmp", cfg_path);
  save_safetensors((fs::path(folder) / "adapter_model.safetensors").string(), module_to_peft_names(ours),
                   {{"format", "pt"}});
}

}  // namespace rd
