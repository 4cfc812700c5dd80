#include "checkpoints/formats/sharded_safetensors.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "checkpoints/formats/safetensors.h"
#include "checkpoints/formats/write_file.h"
#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;

ShardedWrite save_sharded_safetensors(const std::string& folder, const StateDict& tensors, uint64_t max_shard_bytes,
                                      c10::optional<torch::Dtype> dtype,
                                      const std::map<std::string, std::string>& metadata) {
  READ_CHECK(!tensors.empty(), folder, ": no tensors to write");
  READ_CHECK(max_shard_bytes > 0, folder, ": the maximum shard size must be positive");
  auto bytes_of = [&](const torch::Tensor& t) {
    const int64_t elem = dtype && t.is_floating_point() ? c10::elementSize(*dtype) : t.element_size();
    return static_cast<uint64_t>(t.numel() * elem);
  };
  std::vector<std::vector<std::string>> shards(1);
  uint64_t current = 0;
  ShardedWrite out;
  for (const auto& [name, t] : tensors) {
    const uint64_t b = bytes_of(t);
    if (!shards.back().empty() && current + b > max_shard_bytes) shards.emplace_back(), current = 0;
    shards.back().push_back(name);
    current += b;
    out.total_bytes += b;
  }
  fs::create_directories(folder);
  nlohmann::json index = {{"metadata", {{"total_size", out.total_bytes}}}, {"weight_map", nlohmann::json::object()}};
  const size_t n = shards.size();
  for (size_t k = 0; k < n; ++k) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k + 1, n);
    StateDict part;
    for (const auto& key : shards[k]) {
      const torch::Tensor& t = tensors.at(key);
      part[key] = dtype && t.is_floating_point() ? t.detach().to(*dtype) : t.detach();
      index["weight_map"][key] = name;
    }
    save_safetensors((fs::path(folder) / name).string(), part, metadata);
    out.files.push_back(name);
  }
  const std::string text = index.dump(2) + "\n";
  const fs::path path = fs::path(folder) / "model.safetensors.index.json";
  WriteFile f(path.string() + ".tmp", text.size());
  f.write(text.data(), text.size());
  f.commit(path.string());
  return out;
}

}  // namespace rd
