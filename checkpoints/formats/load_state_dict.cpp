#include "checkpoints/formats/load_state_dict.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "checkpoints/formats/json_file.h"
#include "checkpoints/formats/safetensors.h"
#include "checkpoints/formats/torch_save.h"
#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;

namespace {

void read_index(WeightFiles& w, const fs::path& index) {
  JsonFile j(index.string());
  const nlohmann::json& map = j.at("weight_map");
  READ_CHECK(map.is_object(), index.string(), ": weight_map is not an object");
  READ_CHECK(!map.empty(), index.string(), ": weight_map is empty");
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    READ_CHECK(it.value().is_string(), index.string(), ": weight_map['", it.key(), "'] is not a string");
    std::string shard = it.value().get<std::string>();
    // Shards are plain file names beside the index (no paths out of the folder).
    READ_CHECK(!shard.empty() && shard.find('/') == std::string::npos && shard != "." && shard != "..",
               index.string(), ": weight_map['", it.key(), "'] = '", shard, "' is not a file name");
    w.weight_map[it.key()] = shard;
    if (seen.insert(shard).second) {
      fs::path f = index.parent_path() / shard;
      READ_CHECK(fs::is_regular_file(f), index.string(), ": shard '", shard, "' (for key '", it.key(),
                 "') does not exist");
      w.files.push_back(f.string());
    }
  }
  std::sort(w.files.begin(), w.files.end());
  w.index = index.string();
}

}  // namespace

WeightFiles find_weight_files(const std::string& path) {
  WeightFiles w;
  w.path = path;
  fs::path p(path);
  READ_CHECK(fs::exists(p), path, ": no such file or folder");
  if (fs::is_regular_file(p)) {
    if (p.extension() == ".json")
      read_index(w, p);
    else
      w.files.push_back(path);
    return w;
  }
  READ_CHECK(fs::is_directory(p), path, ": not a file or folder");
  static const char* kCandidates[] = {"model.safetensors.index.json", "model.safetensors",
                                      "pytorch_model.bin.index.json", "pytorch_model.bin",
                                      "adapter_model.safetensors",   "adapter_model.bin"};
  for (const char* name : kCandidates) {
    fs::path f = p / name;
    if (!fs::is_regular_file(f)) continue;
    if (f.extension() == ".json")
      read_index(w, f);
    else
      w.files.push_back(f.string());
    return w;
  }
  std::string have;
  for (const auto& e : fs::directory_iterator(p)) have += " " + e.path().filename().string();
  fail(path, ": no weights found (looked for model.safetensors[.index.json], "
             "pytorch_model.bin[.index.json], adapter_model.{safetensors,bin}); the folder has:",
       have.empty() ? " nothing" : have);
}

StateDict load_weight_file(const std::string& file) {
  if (looks_like_torch_save(file)) return load_torch_save(file);
  return load_safetensors(file);  // its errors say what is wrong with the header
}

void for_each_weight_file(const WeightFiles& w,
                          const std::function<void(const std::string&, StateDict&)>& fn) {
  for (const std::string& file : w.files) {
    StateDict sd = load_weight_file(file);
    if (!w.index.empty()) {
      const std::string shard = fs::path(file).filename().string();
      for (const auto& [key, t] : sd) {
        auto it = w.weight_map.find(key);
        READ_CHECK(it != w.weight_map.end(), file, ": key '", key, "' is not in the index ", w.index);
        READ_CHECK(it->second == shard, file, ": key '", key, "' is indexed in shard '", it->second,
                   "' (", w.index, ")");
      }
      for (const auto& [key, s] : w.weight_map)
        READ_CHECK(s != shard || sd.count(key), w.index, ": key '", key, "' is missing from its shard ",
                   file);
    }
    fn(file, sd);
  }
}

StateDict load_state_dict(const std::string& path) {
  WeightFiles w = find_weight_files(path);
  StateDict all;
  for_each_weight_file(w, [&](const std::string& file, StateDict& sd) {
    for (auto& [key, t] : sd)
      READ_CHECK(all.emplace(key, std::move(t)).second, file, ": key '", key,
                 "' also appears in an earlier file of ", path);
  });
  return all;
}

}  // namespace rd
