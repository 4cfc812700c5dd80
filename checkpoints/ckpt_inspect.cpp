#include "checkpoints/ckpt_inspect.h"

#include <gflags/gflags.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "checkpoints/ckpt_training_inspect.h"
#include "checkpoints/formats/load_state_dict.h"

DEFINE_bool(stats, false, "also print min, max and mean of every tensor (and non-finite counts)");

namespace rd {
namespace {

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string stats_of(const torch::Tensor& t) {
  if (t.numel() == 0) return "  (empty)";
  torch::Tensor d = t.to(torch::kDouble);
  torch::Tensor finite = torch::isfinite(d);
  int64_t bad = d.numel() - finite.sum().item<int64_t>();
  torch::Tensor f = bad ? d.masked_select(finite) : d.flatten();
  char buf[160];
  if (f.numel() == 0)
    std::snprintf(buf, sizeof buf, "  all %lld values non-finite", static_cast<long long>(bad));
  else
    std::snprintf(buf, sizeof buf, "  min %.6g  max %.6g  mean %.6g", f.min().item<double>(),
                  f.max().item<double>(), f.mean().item<double>());
  std::string s = buf;
  if (bad) s += "  non-finite " + std::to_string(bad);
  return s;
}

}  // namespace

size_t inspect_checkpoint(const std::string& path, const InspectOptions& options, std::ostream& out) {
  if (is_training_checkpoint(path)) return inspect_training_checkpoint(path, out);
  WeightFiles w = find_weight_files(path);
  out << path;
  if (!w.index.empty()) out << "  (" << w.files.size() << " shards, index " << w.index << ")";
  out << "\n";
  size_t count = 0;
  uint64_t bytes = 0;
  for_each_weight_file(w, [&](const std::string& file, StateDict& sd) {
    if (w.files.size() > 1 || file != path) out << "# " << file << ": " << sd.size() << " tensors\n";
    size_t width = 0, shape_width = 0;
    for (const auto& [name, t] : sd) {
      width = std::max(width, name.size());
      shape_width = std::max(shape_width, shape_of(t).size());
    }
    for (const auto& [name, t] : sd) {
      uint64_t b = static_cast<uint64_t>(t.numel()) * t.element_size();
      std::string dtype = dtype_to_safetensors(t.scalar_type());
      out << name << std::string(width + 2 - name.size(), ' ') << dtype
          << std::string(6 - std::min<size_t>(dtype.size(), 5), ' ') << shape_of(t)
          << std::string(shape_width + 2 - shape_of(t).size(), ' ') << b << " B";
      if (options.stats) out << stats_of(t);
      out << "\n";
      ++count;
      bytes += b;
    }
  });
  out << "total: " << count << " tensors, " << bytes << " bytes (" << human_bytes(bytes) << ")\n";
  return count;
}

namespace {
int run_inspect(const std::vector<std::string>& args) {
  InspectOptions o;
  o.stats = FLAGS_stats;
  inspect_checkpoint(args.at(0), o, std::cout);
  return 0;
}
}  // namespace

const CkptCommand kCkptInspect = {
    "inspect", "PATH", "list the tensors of a weight file or model folder",
    "Lists every tensor (name, dtype, shape, bytes) of PATH: a .safetensors file, a\n"
    "torch.save file (.pth/.bin) or a Hugging Face folder (model.safetensors, sharded\n"
    "model-*.safetensors + index, pytorch_model*.bin, adapter_model.*), then the total\n"
    "count and bytes. Sharded folders are checked against their index.\n"
    "A training checkpoint (a directory with `latest`, or one of its step_<N>\n"
    "directories) is summarised instead: step, world size, trainer state, checksum\n"
    "verdict, the ZeRO partition layout and every file with its size.",
    __FILE__, 1, 1, run_inspect};

}  // namespace rd
