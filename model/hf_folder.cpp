#include "model/hf_folder.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "checkpoints/formats/safetensors.h"
#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;

StateDict load_hf_weights(const std::string& path) {
  fs::path p = path;
  if (!fs::is_directory(p)) {
    READ_CHECK(p.extension() == ".safetensors", path, ": unsupported weight file (safetensors only for now)");
    return load_safetensors(p.string());
  }
  if (fs::exists(p / "model.safetensors")) return load_safetensors((p / "model.safetensors").string());
  fs::path index = p / "model.safetensors.index.json";
  READ_CHECK(fs::exists(index), path, ": no model.safetensors or model.safetensors.index.json");
  std::ifstream f(index);
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  READ_CHECK(!j.is_discarded() && j.contains("weight_map"), index.string(), ": invalid index");
  std::set<std::string> shards;
  for (auto& [k, v] : j["weight_map"].items()) shards.insert(v.get<std::string>());
  StateDict out;
  for (const auto& s : shards)
    for (auto& [k, t] : load_safetensors((p / s).string())) out[k] = t;
  return out;
}

}  // namespace rd
