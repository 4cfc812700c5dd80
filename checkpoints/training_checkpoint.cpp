#include "checkpoints/training_checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>

#include "checkpoints/formats/safetensors.h"
#include "common/error.h"
#include "common/logging.h"
#include "model/tokenizer_files.h"

namespace rd {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  READ_CHECK(f, p.string(), ": cannot read");
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

uint32_t crc_of_file(const fs::path& p) {
  std::string s = read_file(p);
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), s.size()));
}

void fsync_path(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Writes, fsyncs and renames: readers see the old file or the new one.
void write_durably(const fs::path& p, const std::string& data) {
  fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(data.data(), data.size());
    f.flush();
    READ_CHECK(f, tmp.string(), ": write failed (disk full?)");
  }
  fsync_path(tmp);
  fs::rename(tmp, p);
  fsync_path(p.parent_path());
}

std::string shard_name(int rank, int world) {
  return "zero_rank_" + std::to_string(rank) + "_of_" + std::to_string(world) + ".safetensors";
}

std::vector<std::pair<int64_t, fs::path>> steps_in(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  static const std::regex re("step_([0-9]+)");
  std::smatch m;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (e.is_directory() && std::regex_match(n, m, re)) out.emplace_back(std::stoll(m[1]), e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

ZeroShardState read_shard(const fs::path& p, torch::Tensor* rng) {
  SafetensorsFile f(p.string());
  ZeroShardState s;
  READ_CHECK(f.metadata().count("layout") && f.metadata().count("step") && f.metadata().count("rank"), p.string(),
             ": not a read ZeRO shard (metadata missing)");
  s.layout = PartitionLayout::from_json(f.metadata().at("layout"));
  s.step = std::stoll(f.metadata().at("step"));
  s.rank = std::stoi(f.metadata().at("rank"));
  s.master = f.tensor("master");
  s.exp_avg = f.tensor("exp_avg");
  s.exp_avg_sq = f.tensor("exp_avg_sq");
  if (rng && f.contains("rng_state")) *rng = f.tensor("rng_state");
  return s;
}


std::string tmp_name(int64_t step) { return ".tmp_step_" + std::to_string(step); }

void write_shard(const fs::path& tmp, const ZeroShardState& shard, const torch::Tensor& rng, int world) {
  StateDict t{{"master", shard.master}, {"exp_avg", shard.exp_avg}, {"exp_avg_sq", shard.exp_avg_sq}};
  if (rng.defined()) t["rng_state"] = rng;
  save_safetensors((tmp / shard_name(shard.rank, world)).string(), t,
                   {{"step", std::to_string(shard.step)}, {"rank", std::to_string(shard.rank)},
                    {"layout", shard.layout.to_json()}});
}

// The manifest (CRC-32 and size of every file) written last inside `tmp`,
// then tmp renamed to final_dir; a checkpoint without a manifest is incomplete.
void seal(const fs::path& tmp, const fs::path& final_dir, int64_t step) {
  json manifest = {{"format", "read-checkpoint"}, {"version", 1}, {"step", step}, {"files", json::object()}};
  for (const auto& e : fs::recursive_directory_iterator(tmp))
    if (e.is_regular_file()) {
      std::string rel = fs::relative(e.path(), tmp).string();
      manifest["files"][rel] = {{"crc32", crc_of_file(e.path())}, {"bytes", fs::file_size(e.path())}};
      fsync_path(e.path());
    }
  write_durably(tmp / "manifest.json", manifest.dump(2));
  fsync_path(tmp);
  // Re-saving an existing step: move the old one aside first, so a crash
  // leaves one of the two complete.
  fs::path old = final_dir.parent_path() / (".old_" + final_dir.filename().string());
  if (fs::exists(final_dir)) {
    fs::remove_all(old);
    fs::rename(final_dir, old);
  }
  fs::rename(tmp, final_dir);
  fsync_path(final_dir.parent_path());
  fs::remove_all(old);
}

std::function<void(const std::string&)>& phase_hook() {
  static std::function<void(const std::string&)> hook;
  return hook;
}

void phase(const char* name) {
  if (phase_hook()) phase_hook()(name);
}

std::string trimmed(std::string s) {
  s.erase(s.find_last_not_of(" \n\r\t") + 1);
  return s;
}
}  // namespace

CheckpointManager::CheckpointManager(std::string dir, Communicator& comm, int keep_last)
    : dir_(std::move(dir)), comm_(comm), keep_last_(std::max(1, keep_last)) {}

void CheckpointManager::save(const CheckpointSave& c) {
  const int rank = comm_.rank(), world = comm_.world_size();
  const fs::path root(dir_);
  const fs::path tmp = root / tmp_name(c.step);
  const fs::path final_dir = root / ("step_" + std::to_string(c.step));
  READ_CHECK(c.shard.rank == rank, "checkpoint save: the shard is rank ", c.shard.rank, "'s, this is rank ", rank);
  READ_CHECK(c.shard.layout.world_size == world, "checkpoint save: the shard's layout is for ", c.shard.layout.world_size,
             " ranks, the job has ", world);
  // Every phase ends with all ranks agreeing whether it succeeded, so one
  // rank's failure (disk full) is an error on every rank, not a hang.
  std::string error;
  auto attempt = [&](const std::function<void()>& f) {
    if (error.empty()) try {
        f();
      } catch (const std::exception& e) {
        error = e.what();
      }
    torch::Tensor failed = torch::full({1}, error.empty() ? 0.0f : 1.0f);
    comm_.all_reduce(failed);
    return failed.item<float>() == 0;
  };
  auto give_up = [&] {
    if (rank == 0) {
      std::error_code ec;
      fs::remove_all(tmp, ec);
    }
    comm_.barrier();
    fail("checkpoint step ", c.step, " in ", dir_, " not saved (the previous checkpoint is kept): ",
         error.empty() ? "another rank failed" : error);
  };
  bool ok = attempt([&] {
    if (rank != 0) return;
    fs::create_directories(root);
    for (const auto& e : fs::directory_iterator(root)) {  // interrupted saves
      std::string n = e.path().filename().string();
      if (n.rfind(".tmp_step_", 0) == 0 || n.rfind(".old_step_", 0) == 0) fs::remove_all(e.path());
    }
    fs::create_directories(tmp);
  });
  if (!ok) give_up();
  // Every rank: its partition and RNG state.
  if (!attempt([&] {
        write_shard(tmp, c.shard, c.rng_state, world);
        phase("shard_written");
      }))
    give_up();
  ok = attempt([&] {
    if (rank != 0) return;
    StateDict weights;
    for (const auto& [k, v] : c.trainable) weights[k] = v.detach().to(torch::kCPU, torch::kFloat32);
    save_safetensors((tmp / "trainable.safetensors").string(), weights);
    phase("trainable_written");
    json state = c.trainer_state;
    state["step"] = c.step;
    state["world_size"] = world;
    write_durably(tmp / "trainer_state.json", state.dump(2));
    write_durably(tmp / "layout.json", c.shard.layout.to_json());
    if (!c.config_yaml.empty()) write_durably(tmp / "config.yaml", c.config_yaml);
    // Only the tokenizer files: with model.init pretrained tokenizer_dir is the
    // LLaVA folder, weights included. (seal() fsyncs every file.)
    if (!c.tokenizer_dir.empty()) copy_tokenizer_files(c.tokenizer_dir, (tmp / "tokenizer").string());
    phase("files_written");
    seal(tmp, final_dir, c.step);
    phase("sealed");
    write_durably(root / "latest", "step_" + std::to_string(c.step) + "\n");
    phase("latest_written");
  });
  if (!ok) give_up();
  if (rank == 0) {
    LOG(INFO) << "checkpoint saved: " << final_dir.string();
    try {  // the new checkpoint is complete: a failure here only leaves extra ones
      auto steps = steps_in(root);
      for (size_t i = 0; i + keep_last_ < steps.size(); ++i)
        if (steps[i].second != final_dir) fs::remove_all(steps[i].second);
    } catch (const std::exception& e) {
      LOG(WARNING) << "checkpoint pruning in " << dir_ << " failed: " << e.what();
    }
  }
  comm_.barrier();
}

void CheckpointManager::verify(const std::string& step_dir) {
  fs::path d(step_dir);
  READ_CHECK(fs::exists(d / "manifest.json"), step_dir, ": no manifest.json (incomplete checkpoint)");
  json m = json::parse(read_file(d / "manifest.json"), nullptr, false);
  READ_CHECK(!m.is_discarded() && m.contains("files"), (d / "manifest.json").string(), ": invalid manifest");
  for (auto it = m["files"].begin(); it != m["files"].end(); ++it) {
    fs::path p = d / it.key();
    READ_CHECK(fs::exists(p), step_dir, ": missing ", it.key());
    READ_CHECK(fs::file_size(p) == it.value().at("bytes").get<uint64_t>(), step_dir, ": ", it.key(),
               " has the wrong size (truncated?)");
    READ_CHECK(crc_of_file(p) == it.value().at("crc32").get<uint32_t>(), step_dir, ": ", it.key(),
               " fails its CRC-32 check (corrupted)");
  }
}

CheckpointLoad CheckpointManager::load(const std::string& step_dir, const PartitionLayout& layout, int rank) {
  verify(step_dir);
  fs::path d(step_dir);
  CheckpointLoad out;
  out.dir = step_dir;
  out.trainer_state = json::parse(read_file(d / "trainer_state.json"));
  out.step = out.trainer_state.at("step").get<int64_t>();
  out.trainable = load_safetensors((d / "trainable.safetensors").string());
  PartitionLayout saved = PartitionLayout::from_json(read_file(d / "layout.json"));
  fs::path own = d / shard_name(rank, saved.world_size);
  if (saved == layout) {
    out.shard = read_shard(own, &out.rng_state);
    READ_CHECK(out.shard.rank == rank && out.shard.layout == layout, own.string(),
               ": holds rank ", out.shard.rank, "'s partition or another layout");
  } else {
    // Elastic resume: consolidate every saved partition, re-shard for this layout.
    out.shard = shard_consolidated(consolidated_optimizer(step_dir), layout, rank);
    out.resharded = true;
  }
  return out;
}

ConsolidatedState CheckpointManager::consolidated_optimizer(const std::string& step_dir) {
  fs::path d(step_dir);
  PartitionLayout saved = PartitionLayout::from_json(read_file(d / "layout.json"));
  std::vector<ZeroShardState> shards;
  for (int r = 0; r < saved.world_size; ++r) shards.push_back(read_shard(d / shard_name(r, saved.world_size), nullptr));
  return consolidate_shards(shards);
}

std::optional<CheckpointLoad> CheckpointManager::load_latest(const PartitionLayout& layout) {
  fs::path latest = fs::path(dir_) / "latest";
  if (!fs::exists(latest)) return std::nullopt;
  std::string name = trimmed(read_file(latest));
  fs::path d = fs::path(dir_) / name;
  READ_CHECK(fs::exists(d), latest.string(), " points at ", name, ", which does not exist");
  return load(d.string(), layout, comm_.rank());
}

}  // namespace rd

namespace rd {

void CheckpointManager::set_phase_hook(std::function<void(const std::string&)> hook) {
  phase_hook() = std::move(hook);
}

std::string CheckpointManager::resolve(const std::string& dir) {
  fs::path d(dir);
  if (fs::exists(d / "manifest.json") || fs::exists(d / "layout.json")) return d.string();
  READ_CHECK(fs::exists(d / "latest"), dir, ": neither a checkpoint step directory nor a checkpoint directory with `latest`");
  std::string name = trimmed(read_file(d / "latest"));
  READ_CHECK(fs::exists(d / name), (d / "latest").string(), " points at ", name, ", which does not exist");
  return (d / name).string();
}

std::string CheckpointManager::write_resharded(const std::string& step_dir, int world_size,
                                               const std::string& out_root) {
  READ_CHECK(world_size >= 1, "reshard: --world-size must be at least 1, got ", world_size);
  verify(step_dir);
  const fs::path d(step_dir);
  ConsolidatedState full = consolidated_optimizer(step_dir);
  PartitionLayout saved = PartitionLayout::from_json(read_file(d / "layout.json"));
  PartitionLayout layout = saved.resharded(world_size);
  json state = json::parse(read_file(d / "trainer_state.json"));
  const int64_t step = state.at("step").get<int64_t>();
  state["world_size"] = world_size;
  const fs::path out = fs::path(out_root) / ("step_" + std::to_string(step));
  READ_CHECK(!fs::exists(out), out.string(), ": already exists (will not overwrite)");
  fs::create_directories(out_root);
  const fs::path tmp = fs::path(out_root) / tmp_name(step);
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    // RNG states belong to ranks of the old job; they are not carried over.
    for (int r = 0; r < world_size; ++r) write_shard(tmp, shard_consolidated(full, layout, r), {}, world_size);
    fs::copy_file(d / "trainable.safetensors", tmp / "trainable.safetensors");
    write_durably(tmp / "trainer_state.json", state.dump(2));
    write_durably(tmp / "layout.json", layout.to_json());
    if (fs::exists(d / "config.yaml")) fs::copy_file(d / "config.yaml", tmp / "config.yaml");
    if (fs::exists(d / "tokenizer")) copy_tokenizer_files((d / "tokenizer").string(), (tmp / "tokenizer").string());
    seal(tmp, out, step);
    write_durably(fs::path(out_root) / "latest", "step_" + std::to_string(step) + "\n");
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  return out.string();
}

}  // namespace rd
