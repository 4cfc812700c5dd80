// load_state_dict: every weight file and model folder in the fixtures loads
// and round-trips through save_safetensors bit for bit; sharded folders equal
// the union of their shards; broken indexes and folders give clear errors;
// JsonFile errors name the file and key.
#include <filesystem>

#include "tests/harness/errors.h"
#include "checkpoints/formats/json_file.h"
#include "checkpoints/formats/load_state_dict.h"
#include "checkpoints/formats/safetensors.h"
#include "checkpoints/formats/torch_save.h"
#include "common/error.h"
#include "tests/formats_test_util.h"
#include "tests/harness/fixtures.h"

namespace fs = std::filesystem;
using namespace rd::testing;

namespace {
using rd::testing::error_of;
void expect_round_trip(const rd::StateDict& sd) {
  std::string tmp = temp_path("round_trip.safetensors").string();
  rd::save_safetensors(tmp, sd);
  rd::StateDict back = rd::load_safetensors(tmp);
  ASSERT_EQ(back.size(), sd.size());
  for (const auto& [name, t] : sd) {
    ASSERT_TRUE(back.count(name)) << name;
    EXPECT_EQ(back[name].scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(back[name].sizes(), t.sizes()) << name;
    EXPECT_EQ(tensor_bytes(back[name]), tensor_bytes(t)) << name;  // bit for bit (NaNs too)
  }
}

}  // namespace

TEST(LoadStateDict, EveryFixtureWeightFileAndFolder) {
  int files = 0, folders = 0, sharded = 0, torch_files = 0;
  for (const auto& e : fs::recursive_directory_iterator(fixtures_root())) {
    const fs::path& p = e.path();
    std::string ext = p.extension().string();
    bool weight_file = e.is_regular_file() && (ext == ".safetensors" || ext == ".bin" || ext == ".pth");
    bool model_folder = false;
    if (e.is_directory())
      for (const char* n : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                            "pytorch_model.bin.index.json", "adapter_model.safetensors", "adapter_model.bin"})
        model_folder |= fs::exists(p / n);
    if (!weight_file && !model_folder) continue;
    SCOPED_TRACE(p.string());
    rd::StateDict sd = rd::load_state_dict(p.string());
    EXPECT_FALSE(sd.empty());
    expect_round_trip(sd);
    if (weight_file) {
      ++files;
      torch_files += rd::looks_like_torch_save(p.string());
    }
    if (model_folder) {
      ++folders;
      rd::WeightFiles w = rd::find_weight_files(p.string());
      if (!w.index.empty()) {  // the folder equals the union of its shards, read one by one
        ++sharded;
        EXPECT_GT(w.files.size(), 1u);
        size_t total = 0;
        for (const std::string& shard : w.files) {
          rd::StateDict part = rd::load_safetensors(shard);
          total += part.size();
          for (const auto& [k, t] : part) EXPECT_TRUE(torch::equal(sd.at(k), t)) << k;
        }
        EXPECT_EQ(total, sd.size());
        EXPECT_EQ(w.weight_map.size(), sd.size());
      }
    }
  }
  EXPECT_GT(files, 10);
  EXPECT_GE(torch_files, 3);
  EXPECT_GT(folders, 3);
  EXPECT_GE(sharded, 1);
}

namespace {
// A sharded folder: a.weight + b.weight in shard 1, c.weight in shard 2.
fs::path make_sharded(const std::string& name, const std::string& index_json) {
  fs::path dir = temp_path(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  rd::save_safetensors((dir / "model-00001-of-00002.safetensors").string(),
                       {{"a.weight", torch::ones({2})}, {"b.weight", torch::zeros({3})}});
  rd::save_safetensors((dir / "model-00002-of-00002.safetensors").string(), {{"c.weight", torch::ones({1})}});
  write_bytes((dir / "model.safetensors.index.json").string(), index_json);
  return dir;
}
const char* kGoodIndex = R"({"metadata": {"total_size": 24}, "weight_map": {
  "a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00001-of-00002.safetensors",
  "c.weight": "model-00002-of-00002.safetensors"}})";
}  // namespace

TEST(LoadStateDict, ShardedIndexIsValidated) {
  fs::path dir = make_sharded("good", kGoodIndex);
  rd::StateDict sd = rd::load_state_dict(dir.string());
  EXPECT_EQ(sd.size(), 3u);
  EXPECT_TRUE(torch::equal(sd.at("c.weight"), torch::ones({1})));
  EXPECT_EQ(rd::load_state_dict((dir / "model.safetensors.index.json").string()).size(), 3u);

  std::string missing_shard = R"({"weight_map": {"a.weight": "model-00001-of-00002.safetensors",
    "b.weight": "model-00001-of-00002.safetensors", "c.weight": "model-00003-of-00003.safetensors"}})";
  EXPECT_NE(error_of([&] { rd::load_state_dict(make_sharded("m1", missing_shard).string()); })
                .find("shard 'model-00003-of-00003.safetensors' (for key 'c.weight') does not exist"),
            std::string::npos);
  std::string missing_key = R"({"weight_map": {"a.weight": "model-00001-of-00002.safetensors",
    "b.weight": "model-00001-of-00002.safetensors", "c.weight": "model-00002-of-00002.safetensors",
    "d.weight": "model-00002-of-00002.safetensors"}})";
  EXPECT_NE(error_of([&] { rd::load_state_dict(make_sharded("m2", missing_key).string()); })
                .find("key 'd.weight' is missing from its shard"), std::string::npos);
  std::string unlisted = R"({"weight_map": {"a.weight": "model-00001-of-00002.safetensors",
    "c.weight": "model-00002-of-00002.safetensors"}})";
  EXPECT_NE(error_of([&] { rd::load_state_dict(make_sharded("m3", unlisted).string()); })
                .find("key 'b.weight' is not in the index"), std::string::npos);
  std::string wrong_shard = R"({"weight_map": {"a.weight": "model-00002-of-00002.safetensors",
    "b.weight": "model-00001-of-00002.safetensors", "c.weight": "model-00002-of-00002.safetensors"}})";
  EXPECT_NE(error_of([&] { rd::load_state_dict(make_sharded("m4", wrong_shard).string()); })
                .find("is indexed in shard"), std::string::npos);
  std::string escape = R"({"weight_map": {"a.weight": "../../etc/passwd"}})";
  EXPECT_NE(error_of([&] { rd::load_state_dict(make_sharded("m5", escape).string()); }).find("is not a file name"),
            std::string::npos);
  EXPECT_NE(error_of([&] { rd::load_state_dict(make_sharded("m6", "{\"weight_map\": ").string()); })
                .find("model.safetensors.index.json: invalid JSON"), std::string::npos);
  EXPECT_NE(error_of([&] { rd::load_state_dict(make_sharded("m7", "{}").string()); })
                .find("missing key 'weight_map'"), std::string::npos);
}

TEST(LoadStateDict, FolderPreferenceAndErrors) {
  fs::path dir = temp_path("prefs");
  fs::remove_all(dir);
  fs::create_directories(dir);
  EXPECT_NE(error_of([&] { rd::load_state_dict(dir.string()); }).find("no weights found"), std::string::npos);
  EXPECT_NE(error_of([&] { rd::load_state_dict((dir / "nope").string()); }).find("no such file"),
            std::string::npos);
  rd::save_safetensors((dir / "adapter_model.safetensors").string(), {{"lora_A", torch::ones({2})}});
  EXPECT_EQ(rd::load_state_dict(dir.string()).count("lora_A"), 1u);
  rd::save_safetensors((dir / "model.safetensors").string(), {{"w", torch::ones({2})}});
  EXPECT_EQ(rd::load_state_dict(dir.string()).count("w"), 1u);  // model.safetensors wins
  write_bytes((dir / "junk.bin").string(), "junk");
  EXPECT_NE(error_of([&] { rd::load_state_dict((dir / "junk.bin").string()); }).find("junk.bin"),
            std::string::npos);
}

TEST(JsonFile, ErrorsNameTheFileAndKey) {
  std::string path = temp_path("config.json").string();
  write_bytes(path, R"({"hidden_size": 4096, "eps": 1e-6, "name": "llama", "flag": true,
                        "vision_config": {"patch_size": 14}, "wrong": "12", "neg": -1, "null": null})");
  rd::JsonFile j(path);
  EXPECT_EQ(j.get<int64_t>("hidden_size"), 4096);
  EXPECT_DOUBLE_EQ(j.get<double>("eps"), 1e-6);
  EXPECT_DOUBLE_EQ(j.get<double>("hidden_size"), 4096.0);
  EXPECT_EQ(j.get<std::string>("name"), "llama");
  EXPECT_TRUE(j.get<bool>("flag"));
  EXPECT_EQ(j.get<int>("/vision_config/patch_size"), 14);
  EXPECT_EQ(j.get_or<int>("absent", 7), 7);
  EXPECT_EQ(j.get_or<int>("null", 8), 8);
  EXPECT_FALSE(j.has("/vision_config/absent"));
  EXPECT_NE(error_of([&] { j.get<int>("wrong"); }).find(path + ": key 'wrong': expected an integer, got string \"12\""),
            std::string::npos);
  EXPECT_NE(error_of([&] { j.get<int>("eps"); }).find("expected an integer"), std::string::npos);
  EXPECT_NE(error_of([&] { j.get<uint32_t>("neg"); }).find("non-negative"), std::string::npos);
  EXPECT_NE(error_of([&] { j.get<int8_t>("hidden_size"); }).find("expected an integer in range"), std::string::npos);
  EXPECT_NE(error_of([&] { j.get<bool>("hidden_size"); }).find("expected a boolean"), std::string::npos);
  EXPECT_NE(error_of([&] { j.get<int>("absent"); }).find(path + ": missing key 'absent'"), std::string::npos);
  write_bytes(path, "{\"a\": 1,\n \"b\": }");
  EXPECT_NE(error_of([&] { rd::JsonFile bad(path); }).find(path + ": invalid JSON at byte"), std::string::npos);
  write_bytes(path, "[1, 2]");
  EXPECT_NE(error_of([&] { rd::JsonFile bad(path); }).find("expected a JSON object"), std::string::npos);
}
