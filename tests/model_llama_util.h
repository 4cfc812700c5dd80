// Test helper: the weights of a fixture model folder as one StateDict.
#pragma once
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoints/formats/safetensors.h"
#include "common/error.h"

namespace rd::test {

// model.safetensors, or the shards listed by model.safetensors.index.json.
inline StateDict load_case_weights(const std::string& folder) {
  namespace fs = std::filesystem;
  fs::path dir = folder;
  if (fs::exists(dir / "model.safetensors")) return load_safetensors((dir / "model.safetensors").string());
  fs::path index = dir / "model.safetensors.index.json";
  READ_CHECK(fs::exists(index), folder, ": no safetensors weights (torch.save formats need rd::load_state_dict)");
  std::ifstream f(index);
  nlohmann::json j = nlohmann::json::parse(f);
  std::set<std::string> shards;
  for (const auto& [k, v] : j.at("weight_map").items()) shards.insert(v.get<std::string>());
  StateDict sd;
  for (const auto& s : shards)
    for (auto& [k, t] : load_safetensors((dir / s).string())) sd[k] = t;
  return sd;
}

}  // namespace rd::test
