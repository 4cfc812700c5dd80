#include "checkpoints/ckpt_training_inspect.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoints/training_checkpoint.h"
#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  READ_CHECK(f, p.string(), ": cannot read");
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}
}  // namespace

bool is_training_checkpoint(const std::string& path) {
  fs::path p(path);
  return fs::is_directory(p) && (fs::exists(p / "latest") || fs::exists(p / "layout.json"));
}

size_t inspect_training_checkpoint(const std::string& path, std::ostream& out) {
  const std::string dir = CheckpointManager::resolve(path);
  const fs::path d(dir);
  nlohmann::json state = nlohmann::json::parse(slurp(d / "trainer_state.json"));
  PartitionLayout layout = PartitionLayout::from_json(slurp(d / "layout.json"));
  out << "training checkpoint " << dir << "\n";
  out << "step: " << state.value("step", int64_t{-1}) << "\n";
  out << "world size: " << layout.world_size << "\n";
  out << "trainer state: " << state.dump() << "\n";
  std::string verdict = "ok";
  try {
    CheckpointManager::verify(dir);
  } catch (const std::exception& e) {
    verdict = std::string("FAILED: ") + e.what();
  }
  out << "checksums: " << verdict << "\n";
  out << "layout: " << layout.params.size() << " parameters, " << layout.total_numel << " elements (padded "
      << layout.padded_numel << ", " << layout.partition_numel << " per rank)\n";
  size_t width = 0;
  for (const auto& p : layout.params) width = std::max(width, p.name.size());
  for (const auto& p : layout.params)
    out << "  " << p.name << std::string(width + 2 - p.name.size(), ' ') << shape_str(p.shape) << "  numel "
        << p.numel << "  offset " << p.offset << "\n";
  out << "files:\n";
  uint64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(d))
    if (e.is_regular_file()) {
      out << "  " << fs::relative(e.path(), d).string() << "  " << e.file_size() << " B\n";
      bytes += e.file_size();
    }
  out << "total: " << bytes << " bytes\n";
  return layout.params.size();
}

}  // namespace rd
