#include "common/train_section.h"

#include <filesystem>

#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;

TrainSection TrainSection::read(ConfigReader r, const std::string& config_path) {
  TrainSection t;
  t.micro_batch_size = r.get("micro_batch_size", t.micro_batch_size);
  t.grad_accumulation = r.get("grad_accumulation", t.grad_accumulation);
  t.steps_per_epoch = r.get("steps_per_epoch", t.steps_per_epoch);
  t.epochs = r.get("epochs", t.epochs);
  for (auto [k, v] : {std::pair{"micro_batch_size", t.micro_batch_size}, {"grad_accumulation", t.grad_accumulation},
                      {"steps_per_epoch", t.steps_per_epoch}, {"epochs", t.epochs}})
    r.check_positive(k, v);
  t.seed = r.get("seed", t.seed);
  t.output_dir = r.required<std::string>("output_dir");
  if (fs::path(t.output_dir).is_relative() && !fs::path(config_path).parent_path().empty() &&
      !fs::exists(fs::path(t.output_dir).parent_path()))
    t.output_dir = (fs::path(config_path).parent_path() / t.output_dir).string();
  t.log_every = r.get("log_every", t.log_every);
  t.val_every = r.get("val_every", t.val_every);
  t.ckpt_every = r.get("ckpt_every", t.ckpt_every);
  t.keep_last = r.get("keep_last", t.keep_last);
  t.save_best = r.get("save_best", t.save_best);
  t.max_steps = r.get("max_steps", t.max_steps);
  return t;
}

TrainSection TrainSection::load(const std::string& path, const std::vector<std::string>& overrides) {
  return read_config_section(path, overrides, "train", [&](ConfigReader& r) { return read(r, path); });
}

}  // namespace rd
